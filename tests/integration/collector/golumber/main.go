// A Beat stand-in built on Elastic's go-lumber v2 client (the library Filebeat's Logstash output uses):
// sends events numbered [start, start+count) in windows of -window events, compressed at -compress, and
// keeps going across connection losses the way a Beat does: a window that was not acknowledged in full is
// sent again from its first unacknowledged event, on a new connection. Reports progress and the outcome as
// JSON lines on stdout for the test to read.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	v2 "github.com/elastic/go-lumber/client/v2"
)

type report struct {
	Acked      int    `json:"acked"`
	Resent     int    `json:"resent"`
	Reconnects int    `json:"reconnects"`
	Done       bool   `json:"done"`
	Error      string `json:"error,omitempty"`
}

func emit(r report) {
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
}

func main() {
	address := flag.String("addr", "127.0.0.1:5044", "collector address")
	start := flag.Int("start", 0, "number of the first event")
	count := flag.Int("count", 1000, "events to send")
	window := flag.Int("window", 500, "events per window")
	compress := flag.Int("compress", 0, "zlib level, 0 = uncompressed")
	timeout := flag.Duration("timeout", 30*time.Second, "read/write timeout of one exchange")
	giveUp := flag.Duration("give-up", 120*time.Second, "stop retrying after this long without progress")
	pause := flag.Duration("pause", 0, "wait between windows (spreads the stream over a restart)")
	caFile := flag.String("ca", "", "CA of the collector's certificate (turns TLS on)")
	certFile := flag.String("cert", "", "client certificate (mutual TLS)")
	keyFile := flag.String("key", "", "client key (mutual TLS)")
	flag.Parse()

	dial := func(network, addr string) (net.Conn, error) {
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		if *caFile == "" {
			return dialer.Dial(network, addr)
		}
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return nil, err
		}
		pool.AppendCertsFromPEM(pem)
		config := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
		if *certFile != "" {
			pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				return nil, err
			}
			config.Certificates = []tls.Certificate{pair}
		}
		return tls.DialWithDialer(dialer, network, addr, config)
	}

	host, _ := os.Hostname()
	state := report{}
	var client *v2.SyncClient
	next := *start
	end := *start + *count
	var pending []interface{}
	lastProgress := time.Now()
	for next < end {
		if client == nil {
			var err error
			client, err = v2.SyncDialWith(dial, *address, v2.CompressionLevel(*compress), v2.Timeout(*timeout))
			if err != nil {
				if time.Since(lastProgress) > *giveUp {
					state.Error = err.Error()
					emit(state)
					os.Exit(1)
				}
				time.Sleep(200 * time.Millisecond)
				continue
			}
		}
		if len(pending) == 0 {
			// Made once: a window sent again carries the very same events, as a Beat's does.
			size := *window
			if next+size > end {
				size = end - next
			}
			pending = make([]interface{}, size)
			for i := range pending {
				n := next + i
				pending[i] = map[string]interface{}{
					"@timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), // as libbeat writes it
					"@metadata":  map[string]interface{}{"beat": "golumber-test", "type": "_doc", "version": "8.13.0"},
					"message":    fmt.Sprintf("event %d", n),
					"n":          n,
					"host":       map[string]interface{}{"name": host},
					"log":        map[string]interface{}{"offset": n * 100, "file": map[string]interface{}{"path": "/var/log/test.log"}},
					"agent":      map[string]interface{}{"type": "golumber-test", "hostname": host},
				}
			}
		}
		acked, err := client.Send(pending)
		pending = pending[acked:]
		next += acked
		state.Acked += acked
		if acked > 0 {
			lastProgress = time.Now()
		}
		if err != nil {
			// What the collector did not acknowledge goes again on a new connection, as a Beat's output does.
			state.Resent += len(pending)
			state.Reconnects++
			client.Close()
			client = nil
			if time.Since(lastProgress) > *giveUp {
				state.Error = err.Error()
				emit(state)
				os.Exit(1)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		emit(state)
		if *pause > 0 {
			time.Sleep(*pause)
		}
	}
	if client != nil {
		client.Close()
	}
	state.Done = true
	emit(state)
}
