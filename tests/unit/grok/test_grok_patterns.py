"""The shipped pattern library: every pattern has positive and negative samples, and real log lines parse."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from streamstash.grok import Grok, load_pattern_library
from streamstash.grok.library import BUILTIN_PATTERNS_DIR, read_pattern_file
from tests.unit.grok import legacy_samples

REPO = Path(__file__).resolve().parents[3]
TUTORIAL_LOG = REPO / "examples" / "data" / "logstash-tutorial.log"

COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
COMBINED = COMMON + ' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
HTTPD20 = (
    "[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration: "
    "/export/home/live/ap/htdocs/test"
)
HTTPD24 = (
    "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:51234] "
    "File does not exist: /usr/local/apache2/htdocs/favicon.ico"
)
HAPROXY_HTTP_BASE = (
    "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- "
    '1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"'
)
S3_LINE = (
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be mybucket [06/Feb/2019:00:00:38 +0000] "
    "192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
    'REST.GET.VERSIONING - "GET /mybucket?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" -'
)
ELB_LINE = (
    "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000086 0.001048 0.001337 "
    "200 200 0 57"
)
CLOUDFRONT_LINE = "\t".join(
    [
        "2014-05-23",
        "01:13:11",
        "FRA2",
        "182",
        "192.0.2.10",
        "GET",
        "d111111abcdef8.cloudfront.net",
        "/view/my/file.html",
        "200",
        "www.displaymyfiles.com",
        "Mozilla/4.0%20(compatible;%20MSIE%205.0b1;%20Mac_PowerPC)",
        "-",
        "zip=98101",
        "RefreshHit",
        "MRVMF7KydIvxMWfJIglgwHQwZsbG2IhRJ07sn9AkKUFSHS9EXAMPLE==",
        "d111111abcdef8.cloudfront.net",
        "http",
        "191",
        "0.001",
        "-",
        "-",
        "-",
        "RefreshHit",
    ]
)
MONGO_SLOW = (
    'query test.users query: { name: "x" } ntoreturn:0 ntoskip:0 nscanned:10 keyUpdates:0 numYields: 0 '
    "locks(micros) r:100 nreturned:1 reslen:100 120ms"
)
RFC5424 = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 -"

# name -> (matching samples, non-matching samples), checked as ^%{NAME}$ (whole string).
SAMPLES: dict[str, tuple[list[str], list[str]]] = {
    # grok-patterns
    "USERNAME": (["root", "john.doe", "svc-backup_01"], ["john doe", "user@host", ""]),
    "USER": (["alice", "a.b-c"], ["a b", "ü"]),
    "EMAILLOCALPART": (["john.doe", "j+tag"], ["1abc", "a"]),
    "EMAILADDRESS": (
        ["john.doe@example.com", "ops+alerts@mail.example.org"],
        ["john.doe", "@example.com", "a b@example.com"],
    ),
    "INT": (["0", "-42", "+7", "123456"], ["1.5", "abc", "--1"]),
    "BASE10NUM": (["1", "-1.5", ".5", "+10.25"], ["1.", "abc", "1e5"]),
    "NUMBER": (["42", "3.14", "-0.5"], ["3.14.15", "x1"]),
    "BASE16NUM": (["0x1F", "deadBEEF", "-0xff"], ["0xZZ", "g1"]),
    "BASE16FLOAT": (["0x1.8", "ff.a", "12"], ["0x1.8.8", "xyz"]),
    "POSINT": (["1", "42"], ["0", "-1", "042"]),
    "NONNEGINT": (["0", "042"], ["-1", "1.0"]),
    "WORD": (["hello", "foo_bar1"], ["foo-bar", "two words"]),
    "NOTSPACE": (["a/b:c", "x"], ["a b", ""]),
    "SPACE": (["", "   ", "\t"], ["x", " x"]),
    # `.` matches a line break too (Logstash compiles with Ruby's MULTILINE): these match any text at all.
    "DATA": (["", "anything at all", "line1\nline2"], []),
    "GREEDYDATA": (["", "anything at all", "line1\nline2"], []),
    "QUOTEDSTRING": (
        ['"hello"', "'single'", "`tick`", '""', r'"esc \" quote"'],
        ['"unterminated', "noquotes", '"a" b'],
    ),
    "QS": (['"hello world"', "''"], ['"open', "'a' 'b'"]),
    "UUID": (["123e4567-e89b-12d3-a456-426614174000"], ["123e4567-e89b-12d3-a456", "123e4567e89b12d3a456426614174000"]),
    "URN": (["urn:isbn:0451450523", "urn:ietf:rfc:2648"], ["urn:", "isbn:0451450523"]),
    "MAC": (["00:1A:2b:3c:4D:5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e"], ["00:1A:2B:3C:4D", "zz:zz:zz:zz:zz:zz"]),
    "CISCOMAC": (["001a.2b3c.4d5e"], ["00:1a:2b:3c:4d:5e"]),
    "WINDOWSMAC": (["00-1A-2B-3C-4D-5E"], ["00:1A:2B:3C:4D:5E"]),
    "COMMONMAC": (["00:1a:2b:3c:4d:5e"], ["00-1a-2b-3c-4d-5e"]),
    "IPV6": (
        ["2001:db8::1", "::1", "fe80::1%eth0", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.168.1.1"],
        ["192.168.1.1", "12345::1", "gggg::1"],
    ),
    "IPV4": (["192.168.1.1", "10.0.0.255", "8.8.8.8"], ["256.1.1.1", "1.2.3", "1.2.3.4.5"]),
    "IP": (["10.1.2.3", "::1"], ["example.com", "300.1.1.1"]),
    "HOSTNAME": (
        ["example.com", "web-01.internal.example.org", "localhost"],
        ["-bad.example.com", "under_score.com", "a b"],
    ),
    "IPORHOST": (["10.0.0.1", "example.com", "2001:db8::1"], ["a b", "exa_mple"]),
    "HOSTPORT": (["example.com:8080", "10.0.0.1:443"], ["example.com", "example.com:0"]),
    "PATH": (["/var/log/syslog", "C:\\Windows\\System32"], ["relative/path", "no"]),
    "UNIXPATH": (["/usr/local/bin", "/"], ["usr/local", "/tmp/a b"]),
    "TTY": (["/dev/pts/0", "/dev/tty1"], ["/dev/sda1", "pts/0"]),
    "WINPATH": (["C:\\Windows\\System32", "\\\\server\\share"], ["/unix/path", "C:"]),
    "URIPROTO": (["http", "svn+ssh", "git"], ["1http", "h"]),
    "URIHOST": (["example.com", "example.com:8080", "10.0.0.1:80"], ["example.com:", "a b", "example.com:0"]),
    "URIPATH": (["/", "/a/b.html", "/~user/x;y=1"], ["a/b", "/a b"]),
    "URIQUERY": (["a=1&b=2", ""], ["a b", 'a="x"']),
    "URIPARAM": (["?a=1&b=2", "?"], ["a=1", "?a b"]),
    "URIPATHPARAM": (["/search?q=grok", "/index.html"], ["search?q=1", "/a?b c"]),
    "URI": (
        ["http://example.com/", "https://user:pw@example.com:8443/a/b?c=d", "ftp://10.0.0.1/file.txt"],
        ["example.com/path", "http//example.com"],
    ),
    "MONTH": (["Jan", "January", "sep", "Dez", "Oktober", "März"], ["Janu", "Foo", "13"]),
    "MONTHNUM": (["1", "01", "12"], ["13", "00"]),
    "MONTHNUM2": (["01", "12"], ["1", "13"]),
    "MONTHDAY": (["1", "09", "31"], ["32", "00"]),
    "DAY": (["Mon", "Tuesday", "Sun"], ["mon", "Funday"]),
    "YEAR": (["2015", "15"], ["201", "20155"]),
    "HOUR": (["0", "09", "23"], ["24", "123"]),
    "MINUTE": (["00", "59"], ["60", "5"]),
    "SECOND": (["00", "59", "60", "07.123", "07,5"], ["61", "5x"]),
    "TIME": (["05:13:42", "23:59:60.5"], ["05:13", "24:00:00"]),
    "DATE_US": (["11/21/2026", "1-2-26"], ["21/11/2026", "11/21"]),
    "DATE_EU": (["21.11.2026", "21/11/26"], ["2026-11-21", "32.01.2026"]),
    "ISO8601_TIMEZONE": (["Z", "+01:00", "-0530"], ["+1", "UTC"]),
    "ISO8601_SECOND": (["07", "07.123"], ["61", "x"]),
    "TIMESTAMP_ISO8601": (
        ["2026-11-21T10:00:00.123Z", "2026-11-21 10:00:00", "2026-11-21T10:00+01:00"],
        ["2026/11/21 10:00:00", "2026-11-21"],
    ),
    "DATE": (["11/21/2026", "21.11.2026"], ["2026-11-21", "x"]),
    "DATESTAMP": (["11/21/2026 10:00:00", "21.11.2026-10:00:00"], ["2026-11-21 10:00:00", "11/21/2026"]),
    "TZ": (["UTC", "PST", "EDT"], ["CEST", "GMT"]),
    "DATESTAMP_RFC822": (["Sat Nov 21 2026 10:00:00 UTC"], ["Sat, 21 Nov 2026 10:00:00 +0000"]),
    "DATESTAMP_RFC2822": (["Sat, 21 Nov 2026 10:00:00 +0000"], ["Sat Nov 21 2026 10:00:00 UTC"]),
    "DATESTAMP_OTHER": (["Sat Nov 21 10:00:00 UTC 2026"], ["Sat Nov 21 2026 10:00:00 UTC"]),
    "DATESTAMP_EVENTLOG": (["20261121100000"], ["2026-11-21 10:00:00"]),
    "SYSLOGTIMESTAMP": (["Nov 21 10:00:00", "Jan  4 05:13:42"], ["2026-11-21 10:00:00", "Nov 21"]),
    "PROG": (["sshd", "postfix/smtpd", "CRON"], ["a b", "x[1]"]),
    "SYSLOGPROG": (["sshd[1234]", "kernel"], ["sshd[abc]", "sshd [1]"]),
    "SYSLOGHOST": (["web01", "10.0.0.5"], ["web 01", "_x"]),
    "SYSLOGFACILITY": (["<13.6>"], ["<13>", "13.6"]),
    "HTTPDATE": (["04/Jan/2015:05:13:42 +0000"], ["2015-01-04 05:13:42", "04/Jan/2015:05:13:42"]),
    "SYSLOGBASE": (["Nov 21 10:00:00 web01 sshd[1234]:"], ["Nov 21 10:00:00 web01 sshd[1234]"]),
    "LOGLEVEL": (["INFO", "warn", "Warning", "ERROR", "debug", "EMERG"], ["verbose", "LOUD"]),
    # httpd
    "HTTPDUSER": (["-", "alice", "alice@example.com"], ["a b", ""]),
    "HTTPDERROR_DATE": (["Sat Nov 21 10:00:00 2026", "Fri Sep 09 10:42:29.902022 2011"], ["Nov 21 10:00:00 2026"]),
    "HTTPD_COMMONLOG": ([COMMON, COMMON.replace('" 200 ', '" - ')], ['127.0.0.1 - frank "GET /" 200 2326']),
    "HTTPD_COMBINEDLOG": ([COMBINED], [COMMON]),
    "HTTPD20_ERRORLOG": ([HTTPD20], ["[Wed Oct 11 14:32:52 2000] error client denied"]),
    "HTTPD24_ERRORLOG": ([HTTPD24, HTTPD24.replace("[core:error]", "[:error]")], [HTTPD20]),
    "HTTPD_ERRORLOG": ([HTTPD20, HTTPD24], ["not an error log"]),
    "COMMONAPACHELOG": ([COMMON, COMMON.replace('" 200 ', '" - ')], [COMMON.replace(" [", " ")]),
    "COMBINEDAPACHELOG": ([COMBINED, COMBINED.replace(" 2326 ", " - ")], [COMMON]),
    # java
    "JAVACLASS": (
        ["com.example.Foo", "Foo", "org.apache.catalina.core.StandardWrapperValve"],
        ["com..Foo", "1com.Foo"],
    ),
    "JAVAFILE": (["Bar.java", "Native Method", "Unknown Source"], ["Bar.java:42", "(x)"]),
    "JAVAMETHOD": (["baz", "<init>", "<clinit>", "lambda$main$0"], ["1abc", "<foo>"]),
    "JAVASTACKTRACEPART": (
        [
            "\tat com.foo.Bar.baz(Bar.java:42)",
            "    at java.lang.Thread.run(Thread.java:750)",
            "at sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
        ],
        ["com.foo.Bar.baz(Bar.java:42)", "\tat com.foo.Bar.baz"],
    ),
    "JAVATHREAD": (["TP-Processor1", "AB-Processor12"], ["main", "tp-Processor1"]),
    "JAVALOGMESSAGE": (["anything", "", "Exception in thread\n\tat a.B.c(B.java:1)"], []),
    "CATALINA_DATESTAMP": (
        ["Jan 9, 2014 7:13:13 AM", "Nov 21, 2026 10:00:00 PM"],
        ["2014-01-09 07:13:13", "Jan 9, 2014 7:13:13"],
    ),
    "TOMCAT_DATESTAMP": (["2014-01-09 17:32:25,527 -0800"], ["2014-01-09 17:32:25,527"]),
    "CATALINALOG": (
        ["Jan 9, 2014 7:13:13 AM org.apache.catalina.startup.Catalina start"],
        ["INFO: Server startup in 1234 ms"],
    ),
    "TOMCATLOG": (
        ["2014-01-09 20:03:28,269 -0800 | ERROR | com.example.service.ExampleService - something broke"],
        ["2014-01-09 20:03:28,269 -0800 ERROR com.example.Foo - x"],
    ),
    # linux-syslog
    "SYSLOG5424PRINTASCII": (["app-name", "ID47"], ["a b", ""]),
    "SYSLOGBASE2": (
        ["Nov 21 10:00:00 web01 sshd[1234]:", "2026-11-21T10:00:00Z web01", "Nov 21 10:00:00 <13.6> web01 cron:"],
        ["web01 sshd[1234]:"],
    ),
    "SYSLOGPAMSESSION": (
        ["Nov 21 10:00:00 web01 sshd[1234]: pam_unix(sshd:session): session opened for user root by (uid=0)"],
        ["Nov 21 10:00:00 web01 sshd[1234]: Accepted publickey for root"],
    ),
    "CRON_ACTION": (["CMD", "RELOAD"], ["cmd", "CMD1"]),
    "CRONLOG": (
        ["Nov 21 10:00:01 web01 CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)"],
        ["Nov 21 10:00:01 web01 CRON[4242]: root CMD run-parts"],
    ),
    "SYSLOGLINE": (
        [
            "Nov 21 10:00:00 web01 sshd[1234]: Accepted publickey for root from 10.0.0.1 port 22",
            "2026-11-21T10:00:00.123+01:00 web01 app: started",
        ],
        ["not a syslog line"],
    ),
    "SYSLOG5424PRI": (["<34>"], ["<a>", "34"]),
    "SYSLOG5424SD": (['[exampleSDID@32473 iut="3" eventSource="Application"]', "[a][b]"], ["no brackets", "[unclosed"]),
    "SYSLOG5424BASE": ([RFC5424], ["<34> 2003-10-11T22:14:15.003Z host su"]),
    "SYSLOG5424LINE": (
        [
            RFC5424 + " BOM'su root' failed for lonvick on /dev/pts/8",
            (
                "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
                'iut="3" eventSource="Application" eventID="1011"] An application event log entry'
            ),
        ],
        ["<34>1"],
    ),
    # nginx
    "NGUSERNAME": (["alice", "bob@example.com", "a%b"], ["a b", "x/y"]),
    "NGUSER": (["-", "alice"], ["a b", "123"]),
    "NGINXACCESS": ([COMBINED, COMBINED + ' "10.0.0.1, 10.0.0.2" 0.005 0.004'], ["garbage"]),
    "NGINXERROR": (
        [
            (
                '2026/11/21 10:00:00 [error] 1234#5678: *99 open() "/srv/x" failed (2: No such file or directory), '
                "client: 10.0.0.1"
            ),
            "2026/11/21 10:00:00 [warn] 12#12: conflicting server name",
        ],
        ["2026-11-21 10:00:00 [error] 1#1: x"],
    ),
    # redis
    "REDISTIMESTAMP": (["21 Nov 10:00:00", "21 Nov 10:00:00.123"], ["Nov 21 10:00:00"]),
    "REDISLOG": (["[4018] 14 Nov 07:01:22.119 * "], ["[4018] 14 Nov 07:01:22.119 # "]),
    "REDISMONLOG": (['1441735437.873417 [0 127.0.0.1:61523] "GET" "foo"'], ['1441735437.873417 [0 127.0.0.1] "GET"']),
    # postgresql
    "POSTGRESQL": (["11/21/2026 10:00:00 UTC postgres 5f1c2a.3e8 1234"], ["2026-11-21 10:00:00 UTC postgres x 1234"]),
    # ruby
    "RUBY_LOGLEVEL": (["DEBUG", "WARN"], ["debug", "TRACE"]),
    "RUBY_LOGGER": (
        [
            'I, [2026-11-21T10:00:00.123456 #4242]  INFO -- : Started GET "/"',
            "E, [2026-11-21T10:00:00.123456 #4242] ERROR -- app: boom",
        ],
        ["I, [2026-11-21T10:00:00 #4242] INFO - x"],
    ),
    # mongodb
    "MONGO_LOG": (
        ["Nov 21 10:00:00 [conn1] end connection 127.0.0.1:51234"],
        ["2026-11-21T10:00:00.000+0000 I NETWORK [conn1] end connection"],
    ),
    # MONGO_QUERY only matches when " ntoreturn:" follows it: checked by search below (SEARCH_SAMPLES)
    "MONGO_QUERY": (['{ name: "x" }'], ['{ name: "x" ']),
    "MONGO_SLOWQUERY": ([MONGO_SLOW], [MONGO_SLOW.replace(" nreturned:1", "")]),
    "MONGO_WORDDASH": (["my-db", "users"], ["my db", "a.b"]),
    "MONGO3_SEVERITY": (["I", "W"], ["II", " "]),
    "MONGO3_COMPONENT": (["NETWORK", "-"], ["a b", "--"]),
    "MONGO3_LOG": (
        [
            "2026-11-21T10:00:00.000+0000 I NETWORK  [conn1] end connection 127.0.0.1:51234 (3 connections now open)",
            "2026-11-21T10:00:00.000+0000 I -        [main] startup",
        ],
        ["Nov 21 10:00:00 [conn1] end connection"],
    ),
    # aws
    "S3_REQUEST_LINE": (["GET /bucket/key HTTP/1.1", "whatever", "two\nlines"], []),
    "S3_ACCESS_LOG": ([S3_LINE], [COMBINED]),
    "ELB_URIPATHPARAM": (["/index.html?x=1", "/"], ["index.html"]),
    "ELB_URI": (["http://example.com:80/index.html?x=1", "https://10.0.0.1:443/"], ["/index.html"]),
    "ELB_REQUEST_LINE": (["GET http://example.com:80/index.html HTTP/1.1", "two\nlines"], []),
    "ELB_ACCESS_LOG": (
        [
            ELB_LINE + ' "GET https://www.example.com:443/ HTTP/1.1"',
            # no backend: `-` for its address and its response
            ELB_LINE.replace(" 10.0.0.1:80 ", " - ").replace(" 200 200 ", " 408 - ")
            + ' "PUT https://x.example:443/ HTTP/1.1"',
        ],
        [ELB_LINE, ELB_LINE.replace(" 200 200 ", " - 200 ") + ' "GET https://www.example.com:443/ HTTP/1.1"'],
    ),
    "CLOUDFRONT_ACCESS_LOG": ([CLOUDFRONT_LINE], [CLOUDFRONT_LINE.replace("\t", " ")]),
    # haproxy
    "HAPROXYTIME": (["10:00:00", "23:59:59.123"], ["10:00", "24:00:00"]),
    "HAPROXYDATE": (["09/Dec/2013:12:59:46.633"], ["09/Dec/2013:12:59:46"]),
    "HAPROXYCAPTUREDREQUESTHEADERS": (["", "host.example.com|x", "a\nb"], []),
    "HAPROXYCAPTUREDRESPONSEHEADERS": (["", "text/html|x", "a\nb"], []),
    "HAPROXYHTTPBASE": ([HAPROXY_HTTP_BASE], ["10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1"]),
    "HAPROXYHTTP": (["Feb  6 12:14:14 localhost haproxy[14389]: " + HAPROXY_HTTP_BASE], [HAPROXY_HTTP_BASE]),
    "HAPROXYTCP": (
        [
            (
                "Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 "
                "0/0/5007 212 -- 0/0/0/0/3 0/0"
            )
        ],
        ["Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 fnt bck/srv1"],
    ),
}

SAMPLES.update(legacy_samples.SAMPLES)
# Patterns that match any text whatever (`.*` and the like): they have no negative samples.
UNIVERSAL = {
    "DATA",
    "GREEDYDATA",
    "JAVALOGMESSAGE",
    "S3_REQUEST_LINE",
    "ELB_REQUEST_LINE",
    "HAPROXYCAPTUREDREQUESTHEADERS",
    "HAPROXYCAPTUREDRESPONSEHEADERS",
}

# Patterns that only make sense inside something else: checked by search, not anchored.
SEARCH_SAMPLES: dict[str, tuple[list[str], list[str]]] = {
    "MONGO_QUERY": (['{ name: "x" } ntoreturn:0'], ['{ name: "x" }']),
}
ANCHORED_EXEMPT = set(SEARCH_SAMPLES)


@cache
def library() -> dict[str, str]:
    return load_pattern_library()


@cache
def anchored(name: str) -> Grok:
    return Grok([f"\\A%{{{name}}}\\z"], library=library())


def test_library_is_big_and_has_the_standard_names() -> None:
    names = set(library())
    assert len(names) >= 120
    for name in [
        "USERNAME",
        "USER",
        "INT",
        "BASE10NUM",
        "NUMBER",
        "BASE16NUM",
        "POSINT",
        "NONNEGINT",
        "WORD",
        "NOTSPACE",
        "SPACE",
        "DATA",
        "GREEDYDATA",
        "QUOTEDSTRING",
        "QS",
        "UUID",
        "MAC",
        "IPV6",
        "IPV4",
        "IP",
        "HOSTNAME",
        "IPORHOST",
        "HOSTPORT",
        "PATH",
        "UNIXPATH",
        "WINPATH",
        "URIPROTO",
        "URIHOST",
        "URIPATH",
        "URIPARAM",
        "URIPATHPARAM",
        "URI",
        "MONTH",
        "MONTHNUM",
        "MONTHDAY",
        "DAY",
        "YEAR",
        "HOUR",
        "MINUTE",
        "SECOND",
        "TIME",
        "DATE_US",
        "DATE_EU",
        "ISO8601_TIMEZONE",
        "TIMESTAMP_ISO8601",
        "DATESTAMP",
        "TZ",
        "HTTPDATE",
        "SYSLOGTIMESTAMP",
        "PROG",
        "SYSLOGPROG",
        "SYSLOGHOST",
        "SYSLOGFACILITY",
        "SYSLOGBASE",
        "SYSLOGLINE",
        "SYSLOG5424LINE",
        "COMMONAPACHELOG",
        "COMBINEDAPACHELOG",
        "HTTPD_COMMONLOG",
        "HTTPD_COMBINEDLOG",
        "HTTPD_ERRORLOG",
        "NGINXACCESS",
        "LOGLEVEL",
        "JAVACLASS",
        "JAVAFILE",
        "JAVAMETHOD",
        "JAVASTACKTRACEPART",
        "JAVATHREAD",
        "JAVALOGMESSAGE",
        "CATALINA_DATESTAMP",
        "TOMCAT_DATESTAMP",
        "CATALINALOG",
        "TOMCATLOG",
        "EMAILADDRESS",
    ]:
        assert name in names, name


def test_no_pattern_is_defined_in_two_files() -> None:
    seen: dict[str, str] = {}
    for path in sorted(BUILTIN_PATTERNS_DIR.iterdir()):
        for name in read_pattern_file(path):
            assert name not in seen, f"{name} in {seen.get(name)} and {path.name}"
            seen[name] = path.name


def test_every_library_pattern_has_samples() -> None:
    missing = sorted(name for name in library() if name not in SAMPLES)
    assert not missing, f"add positive and negative samples for: {missing}"
    for name, (positive, negative) in SAMPLES.items():
        assert positive and (negative or name in UNIVERSAL), name
    assert not set(SAMPLES) - set(library()), "samples for patterns that do not exist"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_pattern_samples(name: str) -> None:
    positive, negative = SEARCH_SAMPLES.get(name) or SAMPLES[name]
    grok = Grok([f"%{{{name}}}"], library=library()) if name in ANCHORED_EXEMPT else anchored(name)
    for sample in positive:
        result = grok.match(sample)
        assert result.matched and not result.timed_out, f"{name} should match {sample!r}"
    for sample in negative:
        result = grok.match(sample)
        assert not result.matched and not result.timed_out, f"{name} should not match {sample!r}"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fast_and_guarded_engines_agree(name: str) -> None:
    """Where both engines compile an expression, `re` and `regex` give the same fields for the samples."""
    expression = anchored(name).expressions[0]
    fast = expression.fast or re.compile(expression.expansion.regex)
    if expression.guarded is None:
        pytest.skip("no guarded twin")
    positive, negative = SAMPLES[name]
    for sample in positive + negative:
        a, b = fast.search(sample), expression.guarded.search(sample)
        assert (a is None) == (b is None), sample
        if a is not None:
            assert a.groups() == b.groups(), sample


# ---- real lines -----------------------------------------------------------------------------------------------


def test_whole_tutorial_log_parses_with_combinedapachelog() -> None:
    grok = Grok(["%{COMBINEDAPACHELOG}"])
    lines = [line for line in TUTORIAL_LOG.read_text().splitlines() if line.strip()]
    assert len(lines) == 100
    results = [grok.match(line) for line in lines]
    assert all(result.matched for result in results), [
        line for line, r in zip(lines, results, strict=True) if not r.matched
    ]
    fields = results[0].fields  # the file's second line (its first is empty)
    assert fields == {
        "clientip": "83.149.9.216",
        "ident": "-",
        "auth": "-",
        "timestamp": "04/Jan/2015:05:13:42 +0000",
        "verb": "GET",
        "request": "/presentations/logstash-monitorama-2013/images/kibana-search.png",
        "httpversion": "1.1",
        "response": "200",
        "bytes": "203023",
        "referrer": '"http://semicomplete.com/presentations/logstash-monitorama-2013/"',
        "agent": '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) '
        'Chrome/32.0.1700.77 Safari/537.36"',
    }
    assert list(fields)[:4] == ["clientip", "ident", "auth", "timestamp"]
    for result in results:
        assert "rawrequest" not in result.fields
        assert re.fullmatch(r"\d{3}", result.fields["response"])
    dashes = [r.fields for line, r in zip(lines, results, strict=True) if re.search(r'" \d{3} - "', line)]
    assert dashes and all("bytes" not in fields for fields in dashes)


def test_tutorial_log_typed() -> None:
    grok = Grok(
        [
            (
                r"%{IPORHOST:clientip} %{HTTPDUSER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "
                r'"(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion:float})?|%{DATA:rawrequest})" '
                r"%{NUMBER:response:int} (?:%{NUMBER:bytes:int}|-) %{QS:referrer} %{QS:agent}"
            )
        ]
    )
    line = TUTORIAL_LOG.read_text().splitlines()[1]
    fields = grok.match(line).fields
    assert fields["response"] == 200 and fields["bytes"] == 203023 and fields["httpversion"] == 1.1


def test_syslog_rfc3164() -> None:
    line = "Nov 21 10:00:00 web01 sshd[1234]: Accepted publickey for root from 10.0.0.1 port 22 ssh2"
    assert Grok(["%{SYSLOGLINE}"]).match(line).fields == {
        "timestamp": "Nov 21 10:00:00",
        "logsource": "web01",
        "program": "sshd",
        "pid": "1234",
        "message": "Accepted publickey for root from 10.0.0.1 port 22 ssh2",
    }
    no_pid = Grok(["%{SYSLOGBASE} %{GREEDYDATA:message}"]).match("Jan  4 05:13:42 gw kernel: eth0 up").fields
    assert no_pid == {"timestamp": "Jan  4 05:13:42", "logsource": "gw", "program": "kernel", "message": "eth0 up"}


def test_syslog_rfc5424() -> None:
    line = (
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        'eventSource="Application" eventID="1011"] An application event log entry...'
    )
    fields = Grok(["%{SYSLOG5424LINE}"]).match(line).fields
    assert fields == {
        "syslog5424_pri": "165",
        "syslog5424_ver": "1",
        "syslog5424_ts": "2003-10-11T22:14:15.003Z",
        "syslog5424_host": "mymachine.example.com",
        "syslog5424_app": "evntslog",
        "syslog5424_msgid": "ID47",
        "syslog5424_sd": '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]',
        "syslog5424_msg": "An application event log entry...",
    }


def test_nginx_access() -> None:
    line = (
        '10.0.0.7 - - [21/Nov/2026:10:00:00 +0100] "POST /api/v1/orders?id=3 HTTP/2.0" 201 512 "-" '
        '"curl/8.4.0" "203.0.113.9" 0.012 0.010'
    )
    fields = Grok(["%{NGINXACCESS}"]).match(line).fields
    assert fields["clientip"] == "10.0.0.7" and fields["verb"] == "POST" and fields["response"] == "201"
    assert fields["x_forwarded_for"] == '"203.0.113.9"'
    assert fields["request_time"] == "0.012" and fields["upstream_response_time"] == "0.010"
    plain = Grok(["%{NGINXACCESS}"]).match(line.split(' "203', maxsplit=1)[0]).fields
    assert "x_forwarded_for" not in plain and plain["agent"] == '"curl/8.4.0"'


def test_java_stack_trace_and_catalina() -> None:
    part = Grok(["%{JAVASTACKTRACEPART}"]).match("\tat com.foo.Bar.baz(Bar.java:42)").fields
    assert part == {"class": "com.foo.Bar", "method": "baz", "file": "Bar.java", "line": "42"}
    native = Grok(["%{JAVASTACKTRACEPART}"]).match("\tat java.lang.Object.wait(Native Method)").fields
    assert native == {"class": "java.lang.Object", "method": "wait", "file": "Native Method"}
    init = Grok(["%{JAVASTACKTRACEPART}"]).match("    at com.foo.Bar.<init>(Bar.java:7)").fields
    assert init["method"] == "<init>"
    catalina = (
        Grok(["%{CATALINALOG}"])
        .match("Nov 21, 2026 10:00:00 AM org.apache.catalina.startup.Catalina start INFO: Server startup in 1234 ms")
        .fields
    )
    assert catalina == {
        "timestamp": "Nov 21, 2026 10:00:00 AM",
        "class": "org.apache.catalina.startup.Catalina",
        "logmessage": "start INFO: Server startup in 1234 ms",
    }
    tomcat = (
        Grok(["%{TOMCATLOG}"])
        .match("2014-01-09 20:03:28,269 -0800 | ERROR | com.example.service.ExampleService - something broke")
        .fields
    )
    assert tomcat["level"] == "ERROR" and tomcat["logmessage"] == "something broke"


def test_application_line() -> None:
    grok = Grok(
        [
            (
                "%{TIMESTAMP_ISO8601:origtime}%{GREEDYDATA} %{WORD:progress}:%{WORD:action} "
                "elapsed:%{NUMBER:elapsed:int}%{GREEDYDATA}"
            )
        ]
    )
    result = grok.match("2026-11-21T10:00:00.123Z worker-3 INFO resize:thumbnail elapsed:137 ms id=42")
    assert result.matched and result.pattern_index == 0
    assert result.fields == {
        "origtime": "2026-11-21T10:00:00.123Z",
        "progress": "resize",
        "action": "thumbnail",
        "elapsed": 137,
    }
    assert type(result.fields["elapsed"]) is int


def test_library_patterns_with_types() -> None:
    fields = Grok(["%{ELB_ACCESS_LOG}"]).match(ELB_LINE + ' "GET https://www.example.com:443/ HTTP/1.1"').fields
    assert fields["clientport"] == 2817 and fields["backendport"] == 80 and fields["response"] == 200
    assert fields["request_processing_time"] == pytest.approx(0.000086)
    assert fields["proto"] == "https" and fields["urihost"] == "www.example.com:443" and fields["path"] == "/"
    haproxy = Grok(["%{HAPROXYHTTP}"]).match("Feb  6 12:14:14 localhost haproxy[14389]: " + HAPROXY_HTTP_BASE).fields
    assert haproxy["accept_date"] == "06/Feb/2009:12:14:14.655" and haproxy["haproxy_hour"] == "12"
    assert haproxy["http_verb"] == "GET" and haproxy["http_request"] == "/index.html"
    assert haproxy["captured_request_headers"] == "1wt.eu" and "captured_response_headers" not in haproxy


# ---- the legacy families and the differences from Logstash's grok fixed ----------------------------------------


def test_library_has_every_legacy_family() -> None:
    names = set(library())
    for family, examples in {
        "bacula": ["BACULA_LOGLINE", "BACULA_LOG_JOBEND"],
        "bind": ["BIND9"],
        "bro": ["BRO_HTTP", "BRO_DNS", "BRO_CONN", "BRO_FILES"],
        "exim": ["EXIM", "EXIM_MESSAGE_ARRIVAL"],
        "firewalls": ["NETSCREENSESSIONLOG", "CISCO_TAGGED_SYSLOG", "CISCOFW106023", "SHOREWALL", "SFW2"],
        "junos": ["RT_FLOW1", "RT_FLOW2", "RT_FLOW3"],
        "maven": ["MAVEN_VERSION"],
        "mcollective": ["MCOLLECTIVE", "MCOLLECTIVEAUDIT"],
        "nagios": ["NAGIOSLOGLINE", "NAGIOS_EC_LINE_SCHEDULE_HOST_DOWNTIME"],
        "rails": ["RAILS3", "RUUID"],
        "squid": ["SQUID3"],
    }.items():
        assert (BUILTIN_PATTERNS_DIR / family).is_file(), family
        assert set(examples) <= names, family
    assert len(names) >= 315


@pytest.mark.parametrize("name", sorted(legacy_samples.FIELDS))
def test_legacy_formats_capture_their_fields(name: str) -> None:
    line, wanted = legacy_samples.FIELDS[name]
    result = Grok([f"%{{{name}}}"], library=library()).match(line)
    assert result.matched, line
    assert result.fields == wanted


def test_dot_matches_line_breaks_as_in_logstash() -> None:
    """jls-grok compiles with Ruby's MULTILINE: a stack trace joined by a multiline input stays whole."""
    trace = (
        "Nov 21, 2026 10:00:00 AM org.apache.catalina.core.StandardWrapperValve invoke\n"
        "SEVERE: Servlet.service() threw exception\n"
        "java.lang.NullPointerException\n\tat com.example.Orders.show(Orders.java:42)"
    )
    fields = Grok(["%{CATALINALOG}"]).match(trace).fields
    assert fields["class"] == "org.apache.catalina.core.StandardWrapperValve"
    assert fields["logmessage"] == trace.split("StandardWrapperValve ", 1)[1]
    assert Grok(["^%{WORD:first} .*$"]).match("a b\nc d").fields == {"first": "a"}
    # ^ and $ hold at line breaks, as Ruby's anchors do
    assert Grok(["^%{INT:n}$"]).match("total:\n42\nend").fields == {"n": "42"}
    assert not Grok([r"\A%{INT:n}\z"]).match("total:\n42\nend").matched


def test_ruby_inline_options_apply_to_the_rest_of_their_group() -> None:
    assert Grok(["(?m)a.b"]).match("a\nb").matched
    assert Grok(["x(?i)y"]).match("xY").matched
    assert not Grok(["x(?i)y"]).match("Xy").matched  # only what follows the option
    assert not Grok(["(?:x(?i)y)z"]).match("xyZ").matched  # ... within its group
    assert Grok(["(?-m:a.b)"]).match("a\nb").matched is False


def test_repeated_quantifiers_compile_as_onigmo_reads_them() -> None:
    assert Grok(["a.?*b"]).match("a123b").matched
    assert Grok(["^(?:ab){1}{2}$"]).match("abab").matched
    # Ruby's x{1,2}+ repeats the group (it is possessive only in Java syntax)
    assert Grok(["^(?:x{1,2}+)y$"]).match("xxxxxy").matched
    assert Grok(["^a*?b$"]).match("aab").matched and Grok(["^a*+b$"]).match("aab").matched


def test_urihost_captures_the_port() -> None:
    assert Grok(["%{URIHOST}"]).match("example.com:8443").fields == {"port": "8443"}
    assert Grok(["%{URI:url}"]).match("https://example.com:8443/a").fields == {
        "url": "https://example.com:8443/a",
        "port": "8443",
    }


def test_elb_access_log_without_backend() -> None:
    line = (
        "2026-11-21T10:00:00.000000Z my-elb 192.0.2.10:52144 - -1 -1 -1 408 - 1294336 0 "
        '"PUT https://media.example.com:443/videos/a.mp4 HTTP/1.1"'
    )
    fields = Grok(["%{ELB_ACCESS_LOG}"]).match(line).fields
    assert fields["response"] == 408 and "backend_response" not in fields and "backendip" not in fields
    assert fields["urihost"] == "media.example.com:443" and fields["port"] == "443"


def test_httpd24_errorlog_module_is_optional() -> None:
    line = "[Mon Nov 21 10:00:00.123456 2026] [:error] [pid 4242] [client 192.0.2.10:52144] PHP Warning: x"
    fields = Grok(["%{HTTPD_ERRORLOG}"]).match(line).fields
    assert "module" not in fields and fields["loglevel"] == "error" and fields["clientport"] == "52144"
