"""Samples for the pattern families of the legacy set beyond the web-server basics: bacula, bind, bro, exim,
firewalls (NetScreen, Cisco ASA, Shorewall, SuSE), junos, maven, mcollective, nagios, rails and squid.

Every line here was written for these tests (addresses from the documentation ranges). `SAMPLES` has, per
pattern, lines it must match whole and lines it must not; `FIELDS` has one line per log-format pattern with the
captures Logstash's grok gives for it (legacy field names, text values).
"""

from __future__ import annotations

from typing import Any


def _tsv(*fields: str) -> str:
    return "\t".join(fields)


# -- bacula ----------------------------------------------------------------------------------------------------
BACULA_HEAD = "21-Nov 10:00 backup-dir JobId 42: "
BACULA_MESSAGES: dict[str, str] = {
    "BACULA_LOG_MAX_CAPACITY": 'User defined maximum volume capacity 1,000,000,000 exceeded on device "FileStorage" '
    "(/srv/bacula)",
    "BACULA_LOG_END_VOLUME": 'End of medium on Volume "Vol-0007" Bytes=10,737,418,240 Blocks=166,440 at '
    "21-Nov-2026 10:00.",
    "BACULA_LOG_NEW_VOLUME": 'Created new Volume "Vol-0008" in catalog.',
    "BACULA_LOG_NEW_LABEL": 'Labeled new Volume "Vol-0008" on device "FileStorage" (/srv/bacula).',
    "BACULA_LOG_WROTE_LABEL": 'Wrote label to prelabeled Volume "Vol-0008" on device "FileStorage" (/srv/bacula)',
    "BACULA_LOG_NEW_MOUNT": 'New volume "Vol-0008" mounted on device "FileStorage" (/srv/bacula) at 21-Nov-2026 10:01.',
    "BACULA_LOG_NOOPEN": '  Cannot open "/etc/shadow-": ERR=Permission denied',
    "BACULA_LOG_NOOPENDIR": '  Could not open directory "/root/.cache": ERR=Permission denied',
    "BACULA_LOG_NOSTAT": '  Could not stat "/proc/1/fd/3": ERR=No such file or directory',
    "BACULA_LOG_NOJOBS": 'There are no more Jobs associated with Volume "Vol-0003". Marking it purged.',
    "BACULA_LOG_ALL_RECORDS_PRUNED": 'All records pruned from Volume "Vol-0003"; marking it "Purged"',
    "BACULA_LOG_BEGIN_PRUNE_JOBS": "Begin pruning Jobs older than 6 month 0 days .",
    "BACULA_LOG_BEGIN_PRUNE_FILES": "Begin pruning Files.",
    "BACULA_LOG_PRUNED_JOBS": "Pruned 3 Jobs for client web-fd from catalog.",
    "BACULA_LOG_PRUNED_FILES": "Pruned Files from 2 Jobs for client web-fd from catalog.",
    "BACULA_LOG_ENDPRUNE": "End auto prune.",
    "BACULA_LOG_STARTJOB": "Start Backup JobId 42, Job=nightly.2026-11-21_10.00.00_03",
    "BACULA_LOG_STARTRESTORE": "Start Restore Job restore.2026-11-21_10.00.00_04",
    "BACULA_LOG_USEDEVICE": 'Using Device "FileStorage"',
    "BACULA_LOG_DIFF_FS": "     /proc is a different filesystem. Will not descend from / into it.",
    "BACULA_LOG_JOBEND": "Job write elapsed time = 00:12:07, Transfer rate = 14.52 M Bytes/second",
    "BACULA_LOG_NOPRUNE_JOBS": "No Jobs found to prune.",
    "BACULA_LOG_NOPRUNE_FILES": "No Files found to prune.",
    "BACULA_LOG_VOLUME_PREVWRITTEN": 'Volume "Vol-0007" previously written, moving to end of data.',
    "BACULA_LOG_READYAPPEND": 'Ready to append to end of Volume "Vol-0007" size=5368709120',
    "BACULA_LOG_CANCELLING": "Cancelling duplicate JobId=41.",
    "BACULA_LOG_MARKCANCEL": "JobId 41, Job nightly.2026-11-20_10.00.00_02 marked to be canceled.",
    "BACULA_LOG_CLIENT_RBJ": 'shell command: run ClientRunBeforeJob "/usr/local/bin/dump-db --all"',
    "BACULA_LOG_VSS": "Generate VSS Writer",
    "BACULA_LOG_MAXSTART": "Fatal error: Job canceled because max start delay time exceeded.",
    "BACULA_LOG_DUPLICATE": "Fatal error: JobId 40 already running. Duplicate job not allowed.",
    "BACULA_LOG_NOJOBSTAT": "Fatal error: No Job status returned from FD.",
    "BACULA_LOG_FATAL_CONN": "Fatal error: bsock.c:133 Unable to connect to Client: web-fd on web.example.com:9102. "
    "ERR=Connection refused",
    "BACULA_LOG_NO_CONNECT": "Warning: bsock.c:127 Could not connect to Storage daemon on sd.example.com:9103. "
    "ERR=No route to host",
    "BACULA_LOG_NO_AUTH": 'Fatal error: Unable to authenticate with File daemon at "web.example.com:9102". Possible '
    "causes:",
    "BACULA_LOG_NOSUIT": "No prior or suitable Full backup found in catalog. Doing FULL backup.",
    "BACULA_LOG_JOB": "Error: Bacula backup-dir 9.6.7 (10Dec20):",
    "BACULA_LOG_NOPRIOR": "No prior Full backup Job record found.",
}

# -- bro -----------------------------------------------------------------------------------------------------
BRO_HTTP_LINE = _tsv(
    "1732183200.123456",
    "CHhAvVGS1DHFjwGM9",
    "192.0.2.10",
    "52144",
    "198.51.100.7",
    "80",
    "1",
    "GET",
    "www.example.com",
    "/index.html",
    "-",
    "curl/8.5.0",
    "0",
    "612",
    "200",
    "OK",
    "-",
    "-",
    "-",
    "(empty)",
    "-",
    "-",
    "-",
    "-",
    "-",
    "FvW4q41nbCf3yNdCu8",
    "text/html",
)
BRO_DNS_LINE = _tsv(
    "1732183200.5",
    "C8blOJ4YvWg9mBzO2",
    "192.0.2.10",
    "53012",
    "198.51.100.53",
    "53",
    "udp",
    "41715",
    "www.example.com",
    "1",
    "C_INTERNET",
    "1",
    "A",
    "0",
    "NOERROR",
    "F",
    "F",
    "T",
    "T",
    "0",
    "93.184.215.14",
    "300.000000",
    "F",
)
BRO_CONN_LINE = _tsv(
    "1732183200.25",
    "CUM0KZ3MLUfNB0cl11",
    "192.0.2.10",
    "52144",
    "198.51.100.7",
    "80",
    "tcp",
    "http",
    "0.215",
    "73",
    "612",
    "SF",
    "-",
    "0",
    "ShADadFf",
    "6",
    "393",
    "5",
    "880",
    "(empty)",
)
BRO_FILES_LINE = _tsv(
    "1732183200.3",
    "FvW4q41nbCf3yNdCu8",
    "198.51.100.7",
    "192.0.2.10",
    "CUM0KZ3MLUfNB0cl11",
    "HTTP",
    "0",
    "(empty)",
    "text/html",
    "-",
    "0.000",
    "-",
    "F",
    "612",
    "612",
    "0",
    "0",
    "F",
    "-",
    "-",
    "-",
    "-",
    "-",
)

# -- exim, firewalls, junos, nagios, rails, squid: whole lines --------------------------------------------------
EXIM_ARRIVAL = (
    "2026-11-21 10:00:00 [4242] 1tEwXY-000Abc-Q1 <= alice@example.com H=mail.example.org (helo.example.org) "
    '[192.0.2.25]:41234 I=[198.51.100.2]:25 P=esmtps S=2345 id=abc123@example.org T="Quarterly report" '
    "for bob@example.net"
)
NETSCREEN = (
    "Nov 21 10:00:00 fw01.example.com fw01: NetScreen device_id=fw01  [Root]system-notification-00257(traffic): "
    'start_time="2026-11-21 09:59:58" duration=2 policy_id=12 service=https proto=6 src zone=Trust dst zone=Untrust '
    "action=Permit sent=1542 rcvd=8120 src=192.0.2.10 dst=198.51.100.7 src_port=52144 dst_port=443 "
    "src-xlated ip=203.0.113.4 port=40112 dst-xlated ip=198.51.100.7 port=443 session_id=91234 reason=Close - TCP FIN"
)
CISCO_TAGGED = "<166>Nov 21 2026 10:00:00 asa01 : %ASA-6-302013:"
SHOREWALL_LINE = (
    "Nov 21 10:00:00 gw kernel: [1234.5] Shorewall:net2fw:DROP:IN=eth0 OUT= MAC=00:1a:2b:3c:4d:5e:00:1a:2b:3c:4d:5f:"
    "08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=3011 DF PROTO=TCP SPT=44321 DPT=22 "
    "WINDOW=29200 RES=0x00 SYN URGP=0"
)
SFW2_LINE = (
    "Nov 21 10:00:00 host1 kernel: [15123.456] SFW2-INext-DROP-DEFLT IN=eth0 OUT= "
    "MAC=00:1a:2b:3c:4d:5e:00:1a:2b:3c:4d:5f:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 "
    "ID=3011 DF PROTO=TCP SPT=44321 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0 OPT (020405B4)"
)
RT_FLOW_CLOSE = (
    "RT_FLOW_SESSION_CLOSE: session closed TCP FIN: 192.0.2.10/52144->198.51.100.7/443 junos-https "
    "203.0.113.4/40112->198.51.100.7/443 source-nat-rule None 6 trust-to-untrust trust untrust 91234 "
    "12(1542) 10(8120) 2 UNKNOWN UNKNOWN N/A(N/A) ge-0/0/1.0"
)
RT_FLOW_CREATE = (
    "RT_FLOW_SESSION_CREATE: session created 192.0.2.10/52144->198.51.100.7/443 junos-https "
    "203.0.113.4/40112->198.51.100.7/443 source-nat-rule None 6 trust-to-untrust trust untrust 91234 N/A(N/A) ge-0/0/1.0"
)
RT_FLOW_DENY = (
    "RT_FLOW_SESSION_DENY: session denied 203.0.113.9/44321->192.0.2.1/22 junos-ssh 6(0) default-deny untrust trust "
    "UNKNOWN UNKNOWN N/A(N/A) ge-0/0/0.0"
)
NAGIOS_LINES: dict[str, str] = {
    "NAGIOS_CURRENT_SERVICE_STATE": "CURRENT SERVICE STATE: web01;HTTP;OK;HARD;1;HTTP OK: HTTP/1.1 200 OK - 612 bytes",
    "NAGIOS_CURRENT_HOST_STATE": "CURRENT HOST STATE: web01;UP;HARD;1;PING OK - Packet loss = 0%, RTA = 0.42 ms",
    "NAGIOS_SERVICE_NOTIFICATION": "SERVICE NOTIFICATION: oncall;web01;HTTP;CRITICAL;notify-by-email;Connection refused",
    "NAGIOS_HOST_NOTIFICATION": "HOST NOTIFICATION: oncall;web01;DOWN;notify-by-sms;CRITICAL - Host Unreachable",
    "NAGIOS_SERVICE_ALERT": "SERVICE ALERT: web01;HTTP;CRITICAL;SOFT;1;Connection refused",
    "NAGIOS_HOST_ALERT": "HOST ALERT: web01;DOWN;SOFT;2;CRITICAL - Host Unreachable (192.0.2.10)",
    "NAGIOS_SERVICE_FLAPPING_ALERT": "SERVICE FLAPPING ALERT: web01;HTTP;STARTED; Service appears to have started "
    "flapping (24.2% change >= 20.0% threshold)",
    "NAGIOS_HOST_FLAPPING_ALERT": "HOST FLAPPING ALERT: web01;STOPPED; Host appears to have stopped flapping",
    "NAGIOS_SERVICE_DOWNTIME_ALERT": "SERVICE DOWNTIME ALERT: web01;HTTP;STARTED; Service has entered a period of "
    "scheduled downtime",
    "NAGIOS_HOST_DOWNTIME_ALERT": "HOST DOWNTIME ALERT: web01;STOPPED; Host has exited from a period of scheduled "
    "downtime",
    "NAGIOS_PASSIVE_SERVICE_CHECK": "PASSIVE SERVICE CHECK: web01;backup;0;OK - last backup 2h ago",
    "NAGIOS_PASSIVE_HOST_CHECK": "PASSIVE HOST CHECK: web01;0;UP from the satellite",
    "NAGIOS_SERVICE_EVENT_HANDLER": "SERVICE EVENT HANDLER: web01;HTTP;CRITICAL;HARD;restart-httpd",
    "NAGIOS_HOST_EVENT_HANDLER": "HOST EVENT HANDLER: web01;DOWN;HARD;power-cycle",
    "NAGIOS_TIMEPERIOD_TRANSITION": "TIMEPERIOD TRANSITION: workhours;1;0",
    "NAGIOS_EC_LINE_DISABLE_SVC_CHECK": "EXTERNAL COMMAND: DISABLE_SVC_CHECK;web01;HTTP",
    "NAGIOS_EC_LINE_DISABLE_HOST_CHECK": "EXTERNAL COMMAND: DISABLE_HOST_CHECK;web01",
    "NAGIOS_EC_LINE_ENABLE_SVC_CHECK": "EXTERNAL COMMAND: ENABLE_SVC_CHECK;web01;HTTP",
    "NAGIOS_EC_LINE_ENABLE_HOST_CHECK": "EXTERNAL COMMAND: ENABLE_HOST_CHECK;web01",
    "NAGIOS_EC_LINE_PROCESS_SERVICE_CHECK_RESULT": "EXTERNAL COMMAND: PROCESS_SERVICE_CHECK_RESULT;web01;backup;0;"
    "OK - last backup 2h ago",
    "NAGIOS_EC_LINE_PROCESS_HOST_CHECK_RESULT": "EXTERNAL COMMAND: PROCESS_HOST_CHECK_RESULT;web01;0;UP",
    "NAGIOS_EC_LINE_DISABLE_HOST_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: DISABLE_HOST_SVC_NOTIFICATIONS;web01",
    "NAGIOS_EC_LINE_DISABLE_HOST_NOTIFICATIONS": "EXTERNAL COMMAND: DISABLE_HOST_NOTIFICATIONS;web01",
    "NAGIOS_EC_LINE_DISABLE_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: DISABLE_SVC_NOTIFICATIONS;web01;HTTP",
    "NAGIOS_EC_LINE_ENABLE_HOST_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: ENABLE_HOST_SVC_NOTIFICATIONS;web01",
    "NAGIOS_EC_LINE_ENABLE_HOST_NOTIFICATIONS": "EXTERNAL COMMAND: ENABLE_HOST_NOTIFICATIONS;web01",
    "NAGIOS_EC_LINE_ENABLE_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: ENABLE_SVC_NOTIFICATIONS;web01;HTTP",
    "NAGIOS_EC_LINE_SCHEDULE_HOST_DOWNTIME": "EXTERNAL COMMAND: SCHEDULE_HOST_DOWNTIME;web01;1732183200;1732190400;1;0;"
    "7200;admin;kernel upgrade",
}
NAGIOS_TYPES = {
    "NAGIOS_TYPE_CURRENT_SERVICE_STATE": "CURRENT SERVICE STATE",
    "NAGIOS_TYPE_CURRENT_HOST_STATE": "CURRENT HOST STATE",
    "NAGIOS_TYPE_SERVICE_NOTIFICATION": "SERVICE NOTIFICATION",
    "NAGIOS_TYPE_HOST_NOTIFICATION": "HOST NOTIFICATION",
    "NAGIOS_TYPE_SERVICE_ALERT": "SERVICE ALERT",
    "NAGIOS_TYPE_HOST_ALERT": "HOST ALERT",
    "NAGIOS_TYPE_SERVICE_FLAPPING_ALERT": "SERVICE FLAPPING ALERT",
    "NAGIOS_TYPE_HOST_FLAPPING_ALERT": "HOST FLAPPING ALERT",
    "NAGIOS_TYPE_SERVICE_DOWNTIME_ALERT": "SERVICE DOWNTIME ALERT",
    "NAGIOS_TYPE_HOST_DOWNTIME_ALERT": "HOST DOWNTIME ALERT",
    "NAGIOS_TYPE_PASSIVE_SERVICE_CHECK": "PASSIVE SERVICE CHECK",
    "NAGIOS_TYPE_PASSIVE_HOST_CHECK": "PASSIVE HOST CHECK",
    "NAGIOS_TYPE_SERVICE_EVENT_HANDLER": "SERVICE EVENT HANDLER",
    "NAGIOS_TYPE_HOST_EVENT_HANDLER": "HOST EVENT HANDLER",
    "NAGIOS_TYPE_EXTERNAL_COMMAND": "EXTERNAL COMMAND",
    "NAGIOS_TYPE_TIMEPERIOD_TRANSITION": "TIMEPERIOD TRANSITION",
}
NAGIOS_COMMANDS = [
    "DISABLE_SVC_CHECK",
    "ENABLE_SVC_CHECK",
    "DISABLE_HOST_CHECK",
    "ENABLE_HOST_CHECK",
    "PROCESS_SERVICE_CHECK_RESULT",
    "PROCESS_HOST_CHECK_RESULT",
    "SCHEDULE_SERVICE_DOWNTIME",
    "SCHEDULE_HOST_DOWNTIME",
    "DISABLE_HOST_SVC_NOTIFICATIONS",
    "ENABLE_HOST_SVC_NOTIFICATIONS",
    "DISABLE_HOST_NOTIFICATIONS",
    "ENABLE_HOST_NOTIFICATIONS",
    "DISABLE_SVC_NOTIFICATIONS",
    "ENABLE_SVC_NOTIFICATIONS",
]
RAILS_HEAD = 'Started GET "/orders/42?expand=items" for 192.0.2.10 at 2026-11-21 10:00:00 +0100'
RAILS_PROCESSING = '  Processing by OrdersController#show as JSON\n  Parameters: {"id"=>"42", "expand"=>"items"}'
RAILS_FOOT = "Completed 200 OK in 38ms (Views: 12.5ms | ActiveRecord: 4.1ms)"
RAILS_REQUEST = f"{RAILS_HEAD}\n{RAILS_PROCESSING}\n  Order Load (0.4ms)  SELECT orders.* FROM orders\n{RAILS_FOOT}"
SQUID_LINE = (
    "1732183200.123    215 192.0.2.10 TCP_MISS/200 8120 GET http://www.example.com/index.html alice "
    "HIER_DIRECT/198.51.100.7 text/html"
)
MCOLLECTIVE_LINE = "I, [2026-11-21T10:00:00.123456 #4242]  INFO -- : rpcserver.rb:32:in `start' The server is running"


def _firewall_samples() -> dict[str, tuple[list[str], list[str]]]:
    return {
        "NETSCREENSESSIONLOG": ([NETSCREEN], [NETSCREEN.replace("NetScreen", "Netscreen")]),
        "CISCO_TAGGED_SYSLOG": (
            [CISCO_TAGGED, "<166>Nov 21 10:00:00: %ASA-4-106023:"],
            ["Nov 21 2026 10:00:00 asa01 : %ASA-6-302013:"],
        ),
        "CISCOTIMESTAMP": (["Nov 21 2026 10:00:00", "Nov  1 10:00:00"], ["2026-11-21 10:00:00"]),
        "CISCOTAG": (["ASA-6-302013", "FWSM-4-106023"], ["ASA-6", "asa-6-302013"]),
        "CISCO_ACTION": (["Built", "denied by ACL", "est-allowed"], ["Allowed", "built"]),
        "CISCO_REASON": (["Duplicate TCP SYN", "DNS Query", "some other words "], ["no-dashes-here"]),
        "CISCO_DIRECTION": (["Inbound", "outbound"], ["INBOUND", "both"]),
        "CISCO_INTERVAL": (["first hit", "300-second interval"], ["300 second interval"]),
        "CISCO_XLATE_TYPE": (["static", "dynamic"], ["Static"]),
        "CISCOFW104001": (["(Primary) Switching to ACTIVE - HELLO not heard from mate."], ["Switching to ACTIVE"]),
        "CISCOFW104002": (["(Secondary) Switching to STANDBY - Other unit wants me Standby"], ["(Primary) ACTIVE"]),
        "CISCOFW104003": (["(Primary) Switching to FAILED."], ["(Primary) Switching to FAILED"]),
        "CISCOFW104004": (["(Secondary) Switching to OK."], ["(Tertiary) Switching to OK."]),
        "CISCOFW105003": (["(Primary) Monitoring on interface inside waiting"], ["(Primary) Monitoring inside"]),
        "CISCOFW105004": (["(Primary) Monitoring on Interface outside normal"], ["(Primary) Monitoring on outside"]),
        "CISCOFW105005": (
            ["(Secondary) Lost Failover communications with mate on interface failover"],
            ["(Secondary) Lost communications with mate"],
        ),
        "CISCOFW105008": (["(Primary) Testing Interface inside"], ["(Primary) Testing"]),
        "CISCOFW105009": (["(Primary) Testing on interface inside Passed"], ["(Primary) Testing on interface inside"]),
        "CISCOFW106001": (
            ["Inbound TCP connection denied from 203.0.113.9/44321 to 192.0.2.1/22 flags SYN on interface outside"],
            ["Inbound TCP connection denied from 203.0.113.9 to 192.0.2.1 flags SYN on interface outside"],
        ),
        "CISCOFW106006_106007_106010": (
            [
                "Deny inbound UDP from 203.0.113.9/53012 to 192.0.2.1/161 on interface outside",
                "Deny inbound UDP from 203.0.113.9/53012 to 192.0.2.1/53 due to DNS Query",
            ],
            ["Deny inbound UDP from 203.0.113.9 to 192.0.2.1 on interface outside"],
        ),
        "CISCOFW106014": (
            ["Deny inbound icmp src outside:203.0.113.9 dst inside:192.0.2.1 (type 8, code 0)"],
            ["Deny inbound icmp src outside:203.0.113.9 dst inside:192.0.2.1(type 8, code 0)"],
        ),
        "CISCOFW106015": (
            ["Deny TCP (no connection) from 192.0.2.1/443 to 203.0.113.9/44321 flags RST ACK on interface outside"],
            ["Deny TCP from 192.0.2.1/443 to 203.0.113.9/44321 flags RST on interface outside"],
        ),
        "CISCOFW106021": (
            ["Deny TCP reverse path check from 203.0.113.9 to 192.0.2.1 on interface outside"],
            ["Deny TCP path check from 203.0.113.9 to 192.0.2.1 on interface outside"],
        ),
        "CISCOFW106023": (
            [
                (
                    'Deny tcp src outside:203.0.113.9/44321 dst inside:192.0.2.1/22 by access-group "outside_in" '
                    "[0x0, 0x0]"
                ),
                (
                    'Deny protocol 47 src outside:203.0.113.9 dst inside:192.0.2.1 by access-group "outside_in" '
                    "[0x8d9b5e0d, 0x0]"
                ),
            ],
            ["Deny tcp src outside:203.0.113.9/44321 dst inside:192.0.2.1/22 by access-group outside_in"],
        ),
        "CISCOFW106100_2_3": (
            [
                (
                    "access-list outside_in denied tcp for user 'alice' outside/203.0.113.9(44321) -> "
                    "inside/192.0.2.1(22) hit-cnt 1 first hit [0x5ab5c2b1, 0x0]"
                )
            ],
            ["access-list outside_in denied tcp outside/203.0.113.9(44321) -> inside/192.0.2.1(22) hit-cnt 1"],
        ),
        "CISCOFW106100": (
            [
                (
                    "access-list outside_in permitted tcp outside/203.0.113.9(44321) -> inside/192.0.2.1(443) "
                    "hit-cnt 1 300-second interval [0x5ab5c2b1, 0x0]"
                )
            ],
            ["access-list outside_in permitted tcp outside/203.0.113.9 -> inside/192.0.2.1 hit-cnt 1 first hit"],
        ),
        "CISCOFW110002": (
            ["Failed to locate egress interface for UDP from inside:192.0.2.1/53012 to 198.51.100.53/53"],
            ["Failed to locate egress interface for UDP from 192.0.2.1/53012 to 198.51.100.53/53"],
        ),
        "CISCOFW302010": (["16 in use, 2311 most used"], ["16 in use"]),
        "CISCOFW302013_302014_302015_302016": (
            [
                (
                    "Built outbound TCP connection 91234 for outside:198.51.100.7/443 (198.51.100.7/443) to "
                    "inside:192.0.2.10/52144 (203.0.113.4/40112)"
                ),
                (
                    "Teardown TCP connection 91234 for outside:198.51.100.7/443 to inside:192.0.2.10/52144 duration "
                    "0:00:02 bytes 8120 TCP FINs"
                ),
            ],
            ["Built outbound TCP connection for outside:198.51.100.7/443 to inside:192.0.2.10/52144"],
        ),
        "CISCOFW302020_302021": (
            [
                "Built inbound ICMP connection for faddr 203.0.113.9/1 gaddr 192.0.2.1/0 laddr 192.0.2.1/0",
                "Teardown ICMP connection for faddr 203.0.113.9/1 gaddr 192.0.2.1/0 laddr 192.0.2.1/0 (alice)",
            ],
            ["Built inbound ICMP connection for faddr 203.0.113.9 gaddr 192.0.2.1 laddr 192.0.2.1"],
        ),
        "CISCOFW304001": (
            ["192.0.2.10 Accessed URL 198.51.100.7:/index.html"],
            ["192.0.2.10 Accessed 198.51.100.7:/index.html"],
        ),
        "CISCOFW305011": (
            ["Built dynamic TCP translation from inside:192.0.2.10/52144 to outside:203.0.113.4/40112"],
            ["Built dynamic TCP translation from inside:192.0.2.10/52144 to outside"],
        ),
        "CISCOFW313001_313004_313008": (
            ["Denied ICMP type=8, code=0 from 203.0.113.9 on interface outside"],
            ["Denied ICMP type=8 code=0 from 203.0.113.9 on interface outside"],
        ),
        "CISCOFW313005": (
            [
                (
                    "No matching connection for ICMP error message: icmp src outside:203.0.113.9 dst inside:192.0.2.1 "
                    "(type 3, code 3) on outside interface.  Original IP payload: udp src 192.0.2.1/53 dst "
                    "203.0.113.9/53012"
                )
            ],
            [
                (
                    "No matching connection for ICMP error message: icmp src outside:203.0.113.9 dst inside:192.0.2.1 "
                    "(type 3, code 3) on outside interface."
                )
            ],
        ),
        "CISCOFW321001": (
            ["Resource 'conns' limit of 10000 reached for system"],
            ["Resource conns limit of 10000 reached for system"],
        ),
        "CISCOFW402117": (
            ["IPSEC: Received a non-IPSec packet (protocol= ICMP) from 203.0.113.9 to 192.0.2.1"],
            ["IPSEC: Received a non-IPSec packet from 203.0.113.9 to 192.0.2.1"],
        ),
        "CISCOFW402119": (
            [
                (
                    "IPSEC: Received an ESP packet (SPI= 0x1A2B3C4D, sequence number= 0x12) from 203.0.113.9 "
                    "(user= 203.0.113.9) to 192.0.2.1 that failed anti-replay checking"
                )
            ],
            ["IPSEC: Received an ESP packet from 203.0.113.9 to 192.0.2.1 that failed anti-replay checking"],
        ),
        "CISCOFW419001": (
            [
                (
                    "Dropping TCP packet from outside:203.0.113.9/44321 to inside:192.0.2.1/22, reason: MSS exceeded, "
                    "MSS 1380, data 1420"
                )
            ],
            ["Dropping TCP packet from outside:203.0.113.9/44321 to inside:192.0.2.1/22"],
        ),
        "CISCOFW419002": (
            [
                (
                    "Duplicate TCP SYN from outside:203.0.113.9/44321 to inside:192.0.2.1/22 with different initial "
                    "sequence number"
                )
            ],
            ["Duplicate TCP SYN from outside:203.0.113.9/44321 to inside:192.0.2.1/22"],
        ),
        "CISCOFW500004": (
            ["Invalid transport field for protocol=TCP, from 203.0.113.9/0 to 192.0.2.1/0"],
            ["Invalid transport field for protocol=TCP, from 203.0.113.9 to 192.0.2.1"],
        ),
        "CISCOFW602303_602304": (
            [
                (
                    "IPSEC: An outbound LAN-to-LAN SA (SPI= 0x1A2B3C4D) between 192.0.2.1 and 203.0.113.9 "
                    "(user= 203.0.113.9) has been created"
                )
            ],
            ["IPSEC: An outbound LAN-to-LAN SA between 192.0.2.1 and 203.0.113.9 has been created"],
        ),
        "CISCOFW710001_710002_710003_710005_710006": (
            ["TCP access permitted from 192.0.2.10/52144 to inside:192.0.2.1/443"],
            ["TCP access permitted from 192.0.2.10 to inside:192.0.2.1"],
        ),
        "CISCOFW713172": (
            [
                (
                    "Group = 203.0.113.9, IP = 203.0.113.9, Automatic NAT Detection Status:     Remote end is "
                    "behind a NAT device     This   end is NOT behind a NAT device"
                )
            ],
            ["Group = 203.0.113.9, IP = 203.0.113.9, Automatic NAT Detection Status: unknown"],
        ),
        "CISCOFW733100": (
            [
                (
                    "[ Scanning] drop rate-1 exceeded. Current burst rate is 12 per second, max configured rate is 10; "
                    "Current average rate is 3 per second, max configured rate is 5; Cumulative total count is 2045"
                )
            ],
            ["[ Scanning] drop rate-1 exceeded."],
        ),
        "SHOREWALL": ([SHOREWALL_LINE], [SHOREWALL_LINE.replace("Shorewall:", "Firewall:")]),
        "SFW2": ([SFW2_LINE], [SFW2_LINE.replace("SFW2-INext-", "SFW2-IN-")]),
    }


def _nagios_samples() -> dict[str, tuple[list[str], list[str]]]:
    samples: dict[str, tuple[list[str], list[str]]] = {
        "NAGIOSTIME": (["[1732183200]", "[1732183200.5]"], ["1732183200", "[x]"]),
        "NAGIOS_WARNING": (["Warning:  Check result queue contained results for host 'db9'"], ["warning: x"]),
    }
    for name, text in NAGIOS_TYPES.items():
        samples[name] = ([text], [text.lower(), text.replace(" ", "_")])
    for command in NAGIOS_COMMANDS:
        samples[f"NAGIOS_EC_{command}"] = ([command], [command.lower(), command + "S"])
    for name, line in NAGIOS_LINES.items():
        head = line.split(": ", 1)[0]
        samples[name] = ([line], [line.replace(head, head.lower()), line.replace(";", ",")])
    samples["NAGIOSLOGLINE"] = (
        [f"[1732183200] {line}" for line in NAGIOS_LINES.values()] + ["[1732183200] Warning: something odd"],
        ["[1732183200] UNKNOWN THING: web01;x", "1732183200 " + NAGIOS_LINES["NAGIOS_HOST_ALERT"]],
    )
    return samples


def _bacula_samples() -> dict[str, tuple[list[str], list[str]]]:
    samples: dict[str, tuple[list[str], list[str]]] = {
        "BACULA_TIMESTAMP": (["21-Nov 10:00", "1-Jan 00:05"], ["2026-11-21 10:00", "21-Nov"]),
        "BACULA_HOST": (["backup-dir", "web01"], ["web_01", "web.example.com"]),
        "BACULA_VOLUME": (["Vol-0007", "Full.2026"], ["Vol 7"]),
        "BACULA_DEVICE": (["FileStorage"], ["File Storage"]),
        "BACULA_DEVICEPATH": (["/srv/bacula"], ["srv/bacula"]),
        "BACULA_CAPACITY": (["1,000,000", "512"], ["1,00", ",000"]),
        "BACULA_VERSION": (["9.6.7", "10Dec20"], ["9.6 7"]),
        "BACULA_JOB": (["nightly.2026-11-21_10.00.00_03"], ["nightly job"]),
        "BACULA_LOGLINE": (
            [BACULA_HEAD + text for text in BACULA_MESSAGES.values()]
            + ["21-Nov 10:00 web-fd: " + BACULA_MESSAGES["BACULA_LOG_NOSTAT"].strip()],
            [BACULA_HEAD + "Something Bacula never says.", BACULA_MESSAGES["BACULA_LOG_ENDPRUNE"]],
        ),
    }
    for name, text in BACULA_MESSAGES.items():
        negative = text.replace("Volume", "Tape") if "Volume" in text else text.swapcase()
        samples[name] = ([text], [negative])
    return samples


SAMPLES: dict[str, tuple[list[str], list[str]]] = {
    **_bacula_samples(),
    # bind
    "BIND9_TIMESTAMP": (["21-Nov-2026 10:00:00.123", "1-Jan-2026 00:00:01"], ["2026-11-21 10:00:00"]),
    "BIND9": (
        [
            (
                "21-Nov-2026 10:00:00.123 queries: info: client 192.0.2.10#53012 (www.example.com): query: "
                "www.example.com IN A +E(0)K (198.51.100.53)"
            ),
            (
                "21-Nov-2026 10:00:00.123 queries: info: client @0x7f2b8c0a1e00 192.0.2.10#53012 (www.example.com): "
                "query: www.example.com IN AAAA + (198.51.100.53)"
            ),
        ],
        ["21-Nov-2026 10:00:00.123 queries: info: client 192.0.2.10 (www.example.com): query: www.example.com IN A"],
    ),
    # bro
    "BRO_HTTP": ([BRO_HTTP_LINE], [BRO_HTTP_LINE.replace("\t", " ")]),
    "BRO_DNS": ([BRO_DNS_LINE], [BRO_DNS_LINE.replace("\tudp\t", "\t17/udp\t")]),
    "BRO_CONN": ([BRO_CONN_LINE], [BRO_CONN_LINE.replace("\t0.215\t", "\t-\t")]),
    "BRO_FILES": ([BRO_FILES_LINE], [BRO_FILES_LINE.replace("198.51.100.7", "web")]),
    # exim
    "EXIM_MSGID": (["1tEwXY-000Abc-Q1"], ["1tEwXY-000Abc", "1tEwX-000Abc-Q1"]),
    "EXIM_FLAGS": (["<=", "=>", "->", "*>", "**", "=="], ["<>", "=<"]),
    "EXIM_DATE": (["2026-11-21 10:00:00"], ["21/11/2026 10:00:00"]),
    "EXIM_PID": (["[4242]"], ["4242", "[0]"]),
    "EXIM_QT": (["1d2h3m", "45s", ""], ["3h1d", "5x"]),
    "EXIM_EXCLUDE_TERMS": (["Message is frozen", "End queue run", " retry time not reached "], ["frozen"]),
    "EXIM_REMOTE_HOST": (
        ["H=mail.example.org (helo.example.org) [192.0.2.25]:41234", "H=[192.0.2.25]"],
        ["H=mail.example.org", "H=mail.example.org [host]"],
    ),
    "EXIM_INTERFACE": (["I=[198.51.100.2]:25"], ["I=[198.51.100.2]"]),
    "EXIM_PROTOCOL": (["P=esmtps"], ["P="]),
    "EXIM_MSG_SIZE": (["S=2345"], ["S=big"]),
    "EXIM_HEADER_ID": (["id=abc123@example.org"], ["id="]),
    "EXIM_SUBJECT": (['T="Quarterly report"'], ["T=Quarterly"]),
    "EXIM_UNKNOWN_FIELD": (["U=exim", "DKIM=example.org"], ["TOOLONG=x", "U="]),
    "EXIM_NAMED_FIELDS": ([" H=[192.0.2.25] P=smtp S=12", ""], ["H=[192.0.2.25]", " P="]),
    "EXIM_MESSAGE_ARRIVAL": (
        [EXIM_ARRIVAL, "2026-11-21 10:00:00 1tEwXY-000Abc-Q1 <= bob@example.net U=bob P=local S=512"],
        [EXIM_ARRIVAL.replace(" <= ", " => ")],
    ),
    "EXIM": ([EXIM_ARRIVAL], ["2026-11-21 10:00:00 1tEwXY-000Abc-Q1 Completed"]),
    **_firewall_samples(),
    # junos
    "RT_FLOW_EVENT": (["RT_FLOW_SESSION_CREATE", "RT_FLOW_SESSION_DENY"], ["RT_FLOW_SESSION_OPEN"]),
    "RT_FLOW1": ([RT_FLOW_CLOSE], [RT_FLOW_CREATE]),
    "RT_FLOW2": ([RT_FLOW_CREATE], [RT_FLOW_CLOSE]),
    "RT_FLOW3": ([RT_FLOW_DENY], [RT_FLOW_CREATE]),
    # maven
    "MAVEN_VERSION": (["1", "1.2", "1.2.3", "1.2.*", "3.5.0.RELEASE", "2.0-SNAPSHOT"], ["1.2.3.4", "v1.2", "1.x"]),
    # mcollective
    "MCOLLECTIVE": (
        ["I, [2026-11-21T10:00:00.123456 #4242]  INFO", "W, [2026-11-21T10:00:00.5 #1] WARN"],
        ["[2026-11-21T10:00:00.123456 #4242] INFO"],
    ),
    "MCOLLECTIVEAUDIT": (["2026-11-21T10:00:00.123456+0100:"], ["2026-11-21T10:00:00.123456+0100"]),
    **_nagios_samples(),
    # rails
    "RUUID": (["0123456789abcdef0123456789ABCDEF"], ["0123456789abcdef", "0123456789abcdef0123456789abcdeg"]),
    "RCONTROLLER": (["OrdersController#show", "Admin::UsersController#index"], ["OrdersController", "#show"]),
    "RAILS3HEAD": ([RAILS_HEAD], [RAILS_HEAD.replace(" +0100", "")]),
    "RPROCESSING": (
        [RAILS_PROCESSING, "  Processing by OrdersController#index as HTML"],
        ["  Processing OrdersController#index as HTML"],
    ),
    "RAILS3FOOT": ([RAILS_FOOT, "Completed 302 Found in 5ms (ActiveRecord: 1.2ms)"], ["Completed in 38ms"]),
    "RAILS3PROFILE": (["(Views: 12.5ms | ActiveRecord: 4.1ms", "(ActiveRecord: 1.2ms", ""], ["(Views: 12.5ms)"]),
    "RAILS3": ([RAILS_REQUEST, RAILS_HEAD], ["Processing by OrdersController#show as JSON"]),
    # squid
    "SQUID3": ([SQUID_LINE, SQUID_LINE.replace(" alice ", " - ")], [SQUID_LINE.replace("TCP_MISS/200", "TCP_MISS")]),
}

# One line per log format and the captures Logstash gives for it (every capture, as text).
FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "BACULA_LOGLINE": (
        BACULA_HEAD + BACULA_MESSAGES["BACULA_LOG_NEW_MOUNT"],
        {"bts": "21-Nov 10:00", "hostname": "backup-dir", "jobid": "42", "volume": "Vol-0008", "device": "FileStorage"},
    ),
    "BIND9": (
        SAMPLES["BIND9"][0][0],
        {
            "timestamp": "21-Nov-2026 10:00:00.123",
            "loglevel": "info",
            "clientip": "192.0.2.10",
            "clientport": "53012",
            "query": ["www.example.com", "www.example.com"],
            "querytype": "A +E(0)K",
            "dns": "198.51.100.53",
        },
    ),
    "EXIM": (
        EXIM_ARRIVAL,
        {
            "timestamp": "2026-11-21 10:00:00",
            "exim_year": "2026",
            "exim_month": "11",
            "exim_day": "21",
            "exim_time": "10:00:00",
            "pid": "4242",
            "exim_msgid": "1tEwXY-000Abc-Q1",
            "exim_flags": "<=",
            "exim_sender_email": "alice@example.com",
            "remote_hostname": "mail.example.org",
            "remote_heloname": "helo.example.org",
            "remote_host": "192.0.2.25",
            "remote_port": "41234",
            "exim_interface": "198.51.100.2",
            "exim_interface_port": "25",
            "protocol": "esmtps",
            "exim_msg_size": "2345",
            "exim_header_id": "abc123@example.org",
            "exim_subject": '"Quarterly report"',
            "exim_recipient_email": "bob@example.net",
        },
    ),
    "CISCOFW106023": (
        'Deny tcp src outside:203.0.113.9/44321 dst inside:192.0.2.1/22 by access-group "outside_in" [0x0, 0x0]',
        {
            "action": "Deny",
            "protocol": "tcp",
            "src_interface": "outside",
            "src_ip": "203.0.113.9",
            "src_port": "44321",
            "dst_interface": "inside",
            "dst_ip": "192.0.2.1",
            "dst_port": "22",
            "policy_id": "outside_in",
            "hashcode1": "0x0",
            "hashcode2": "0x0",
        },
    ),
    "SHOREWALL": (
        SHOREWALL_LINE,
        {
            "timestamp": "Nov 21 10:00:00",
            "nf_host": "gw",
            "nf_action1": "net2fw",
            "nf_action2": "DROP",
            "nf_in_interface": "eth0",
            "nf_dst_mac": "00:1a:2b:3c:4d:5e",
            "nf_src_mac": "00:1a:2b:3c:4d:5f",
            "nf_src_ip": "203.0.113.9",
            "nf_dst_ip": "192.0.2.1",
            "nf_len": "60",
            "nf_tos": "0x00",
            "nf_prec": "0x00",
            "nf_ttl": "52",
            "nf_id": "3011",
            "nf_protocol": "TCP",
            "nf_src_port": "44321",
            "nf_dst_port": "22",
        },
    ),
    "RT_FLOW3": (
        RT_FLOW_DENY,
        {
            "event": "RT_FLOW_SESSION_DENY",
            "src-ip": "203.0.113.9",
            "src-port": "44321",
            "dst-ip": "192.0.2.1",
            "dst-port": "22",
            "service": "junos-ssh",
            "protocol-id": "6",
            "policy-name": "default-deny",
            "from-zone": "untrust",
            "to-zone": "trust",
        },
    ),
    "NAGIOSLOGLINE": (
        "[1732183200] " + NAGIOS_LINES["NAGIOS_SERVICE_ALERT"],
        {
            "nagios_epoch": "1732183200",
            "nagios_type": "SERVICE ALERT",
            "nagios_hostname": "web01",
            "nagios_service": "HTTP",
            "nagios_state": "CRITICAL",
            "nagios_statelevel": "SOFT",
            "nagios_attempt": "1",
            "nagios_message": "Connection refused",
        },
    ),
    "RAILS3": (
        RAILS_REQUEST,
        {
            "verb": "GET",
            "request": "/orders/42?expand=items",
            "clientip": "192.0.2.10",
            "timestamp": "2026-11-21 10:00:00 +0100",
            "controller": "OrdersController",
            "action": "show",
            "format": "JSON",
            "params": '"id"=>"42", "expand"=>"items"',
            # RPROCESSING's trailing \\W* takes the line break and the indent
            "context": "Order Load (0.4ms)  SELECT orders.* FROM orders\n",
            "response": "200",
            "totalms": "38",
            "viewms": "12.5",
            "activerecordms": "4.1",
        },
    ),
    "SQUID3": (
        SQUID_LINE,
        {
            "timestamp": "1732183200.123",
            "duration": "215",
            "client_address": "192.0.2.10",
            "cache_result": "TCP_MISS",
            "status_code": "200",
            "bytes": "8120",
            "request_method": "GET",
            "url": "http://www.example.com/index.html",
            "user": "alice",
            "hierarchy_code": "HIER_DIRECT",
            "server": "198.51.100.7",
            "content_type": "text/html",
        },
    ),
    "MCOLLECTIVE": (
        MCOLLECTIVE_LINE,
        {"timestamp": "2026-11-21T10:00:00.123456", "pid": "4242", "event_level": "INFO"},
    ),
}
