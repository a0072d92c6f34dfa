package alb

// Sniff reports whether line looks like an ALB access log entry: a request
// type word (http, https, h2, grpcs, ws, wss), a space and an RFC 3339 UTC
// time. It is cheap and never true for VPC flow or S3 server access lines.
func Sniff(line []byte) bool {
	i := 0
	for i < len(line) && i < 6 && line[i] != ' ' {
		i++
	}
	if i >= len(line) || line[i] != ' ' {
		return false
	}
	switch string(line[:i]) {
	case "http", "https", "h2", "grpcs", "ws", "wss":
	default:
		return false
	}
	t := line[i+1:]
	if len(t) < 20 {
		return false
	}
	for k, c := range t[:19] {
		switch k {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}
