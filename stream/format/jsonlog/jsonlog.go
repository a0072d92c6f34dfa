// Package jsonlog is Gannet's JSON reading for logs: a zero-copy JSON
// Decoder that the JSON format parsers (CloudTrail, WAF, Route 53 Resolver,
// GuardDuty) are built on, and the generic JSON pass-through format for any
// other one-object-per-line log.
package jsonlog

import (
	"bufio"
	"io"
	"iter"
	"net/netip"
	"strconv"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/gen"
)

// Record is one generic JSON log object. The object is kept whole as raw
// JSON; a few well-known top-level keys are read into typed fields.
type Record struct {
	// Object is the whole JSON object, verbatim.
	Object string `json:"object"`
	// TimeKey names the key the timestamp was read from ("" when none).
	TimeKey string `json:"timeKey,omitempty"`
	// Message is message, msg or log.
	Message string `json:"message,omitempty"`
	// Level is level, severity or log.level.
	Level string `json:"level,omitempty"`
}

// Format returns stream.FormatJSON.
func (*Record) Format() stream.Format { return stream.FormatJSON }

// Values yields the values at a dotted path in the object (see Values).
func (r *Record) Values(path string) iter.Seq[string] { return Values(r.Object, path) }

const prefix = "json"

// NewParser returns the generic JSON parser. It is stateless; one parser
// may serve any number of units, but not concurrently.
func NewParser() stream.Parser {
	return stream.ParserFunc{F: stream.FormatJSON, Fn: parse}
}

// Sniff reports whether data looks like a JSON object (first non-blank byte
// '{'). It is the lowest-priority sniffer: every specific JSON format is
// tried first.
func Sniff(data []byte) bool {
	return SniffObject(data)
}

// timeKeys are the keys tried for the event time, in order.
var timeKeys = [...]string{"@timestamp", "timestamp", "time", "ts", "eventTime", "date", "datetime"}

func parse(u *stream.Unit, ev *stream.Event) error {
	src, _ := Text(u.Data)
	var d Decoder
	if err := d.Begin(prefix, src); err != nil {
		return err
	}
	r := &Record{}
	var ts [len(timeKeys)]struct {
		text string
		num  float64
		kind Kind
	}
	var ip, port, user, ua, method, path, status string
	for k, ok := d.Member(); ok; k, ok = d.Member() {
		i := timeKeyIndex(k)
		switch {
		case i >= 0:
			ts[i].kind = d.Peek()
			if ts[i].kind == KindNumber {
				ts[i].num = d.Float()
			} else if ts[i].kind == KindString {
				ts[i].text = d.String()
			} else {
				d.Skip()
			}
		case k == "message" || k == "msg" || k == "log":
			if d.Peek() == KindString {
				r.Message = d.String()
			} else {
				d.Skip()
			}
		case k == "level" || k == "severity" || k == "log.level" || k == "lvl":
			r.Level = scalar(&d)
		case k == "source.ip" || k == "src_ip" || k == "client_ip" || k == "remote_addr" || k == "clientIp" || k == "ip":
			ip = scalar(&d)
		case k == "source.port" || k == "src_port" || k == "remote_port":
			port = scalar(&d)
		case k == "user.name" || k == "user" || k == "username":
			user = scalar(&d)
		case k == "user_agent.original" || k == "user_agent" || k == "userAgent" || k == "ua":
			ua = scalar(&d)
		case k == "http.request.method" || k == "method":
			method = scalar(&d)
		case k == "url.path" || k == "path" || k == "uri":
			path = scalar(&d)
		case k == "http.response.status_code" || k == "status":
			status = scalar(&d)
		default:
			d.Skip()
		}
	}
	if err := d.Finish(prefix); err != nil {
		return err
	}
	r.Object = src
	for i := range ts {
		t, ok := timeValue(ts[i].kind, ts[i].text, ts[i].num)
		if ok {
			ev.Timestamp, r.TimeKey = t, timeKeys[i]
			break
		}
	}
	if ev.Timestamp.IsZero() {
		// No usable time in the object (absent, or text that is not RFC
		// 3339): the container's time, else the ingest time. A pass-through
		// keeps the object rather than dead-letter it for its time format.
		ev.Timestamp = u.Timestamp.UTC()
		if u.Timestamp.IsZero() {
			ev.Timestamp = ev.Ingested.UTC()
		}
	}
	ev.Format = stream.FormatJSON
	ev.Native = r
	ev.Kind = "event"
	ev.Message = r.Message
	ev.Source.Address = ip
	if a, err := netip.ParseAddr(ip); err == nil {
		ev.Source.IP = a.Unmap()
	}
	if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65536 {
		ev.Source.Port = int32(n)
	}
	ev.UserName = user
	ev.UserAgent = ua
	ev.HTTPMethod = method
	ev.URLPath = path
	if n, err := strconv.Atoi(status); err == nil && n >= 100 && n < 1000 {
		ev.HTTPStatusCode = int32(n)
	}
	return nil
}

func timeKeyIndex(k string) int {
	for i, t := range timeKeys {
		if k == t {
			return i
		}
	}
	return -1
}

// scalar reads a scalar as text; objects and arrays are skipped ("").
func scalar(d *Decoder) string {
	switch d.Peek() {
	case KindObject, KindArray:
		d.Skip()
		return ""
	}
	return d.String()
}

// timeValue interprets a time key: RFC 3339 text, or epoch seconds /
// milliseconds / microseconds / nanoseconds by magnitude.
func timeValue(kind Kind, text string, num float64) (time.Time, bool) {
	switch kind {
	case KindString:
		return ParseTime(text)
	case KindNumber:
		switch {
		case num <= 0:
			return time.Time{}, false
		case num < 1e11:
			sec := int64(num)
			return time.Unix(sec, int64((num-float64(sec))*1e9)).UTC(), true
		case num < 1e14:
			return time.UnixMilli(int64(num)).UTC(), true
		case num < 1e17:
			return time.UnixMicro(int64(num)).UTC(), true
		default:
			return time.Unix(0, int64(num)).UTC(), true
		}
	}
	return time.Time{}, false
}

// Generate writes o.Count generic JSON application log lines (an HTTP API
// service's structured request logs) to w, deterministically. The generic
// format has no attack scenario: with o.Attacks it also logs failed logins
// from gen.AttackerIP for gen.AttackerUser, which no built-in rule targets.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	r := gen.Rand(o.Seed)
	bw := bufio.NewWriterSize(w, 64<<10)
	now := o.StartTime()
	every := gen.AttackEvery(o.Count, 1)
	var b []byte
	paths := []string{"/api/items", "/api/items/42", "/api/orders", "/healthz", "/api/login"}
	users := []string{"alice", "bob", "carol", "dave", ""}
	for i := 0; i < o.Count; i++ {
		now = now.Add(time.Duration(5+r.IntN(300)) * time.Millisecond)
		b = append(b[:0], '{')
		b = AppendField(b, "time", now.Format("2006-01-02T15:04:05.000Z07:00"))
		ip, user, method, path, status, msg := gen.PublicIP(r).String(), gen.Pick(r, users), "GET", gen.Pick(r, paths), 200, "request served"
		if path == "/api/login" || path == "/api/orders" {
			method = "POST"
		}
		if o.Attacks && i%every == every/2 {
			ip, user, method, path, status, msg = gen.AttackerIP, gen.AttackerUser, "POST", "/api/login", 401, "login failed"
		}
		level := "info"
		if status >= 400 {
			level = "warn"
		}
		b = AppendField(b, "level", level)
		b = AppendField(b, "msg", msg)
		b = AppendField(b, "method", method)
		b = AppendField(b, "path", path)
		b = AppendIntField(b, "status", int64(status))
		b = AppendIntField(b, "duration_ms", int64(1+r.IntN(120)))
		b = AppendField(b, "remote_addr", ip)
		if user != "" {
			b = AppendField(b, "user", user)
		}
		b = AppendField(b, "request_id", UUID(r))
		b = append(b, "}\n"...)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}
