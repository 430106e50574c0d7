package tracing

import "bytes"

// W3C trace context bounds on a tracestate.
const (
	maxTracestateMembers = 32
	maxTracestateLen     = 512
)

// ValidTracestate reports whether values, the tracestate headers of a
// request in order, make a tracestate the W3C recommendation allows:
// combined (joined by ",") at most 512 characters; at most 32 list
// members, each "key=value" or empty; a key lowercase as the grammar
// says, simple ("vendor") or multi-tenant ("tenant@vendor"), and no key
// twice; a value of at most 256 printable ASCII characters without ","
// or "=", not ending in a space. A tracestate that is not valid is not
// passed on. It does not allocate.
func ValidTracestate(values [][]byte) bool {
	n := len(values) - 1
	for _, v := range values {
		n += len(v)
	}
	if n > maxTracestateLen {
		return false
	}
	var keys [maxTracestateMembers][]byte
	members := 0
	for _, v := range values {
		for rest, more := v, true; more; {
			var m []byte
			m, rest, more = bytes.Cut(rest, []byte{','})
			if m = bytes.Trim(m, " \t"); len(m) == 0 {
				continue // an empty list member is allowed
			}
			key, value, ok := bytes.Cut(m, []byte{'='})
			if !ok || !validKey(key) || !validValue(value) || members == maxTracestateMembers {
				return false
			}
			for _, k := range keys[:members] {
				if bytes.Equal(k, key) {
					return false
				}
			}
			keys[members] = key
			members++
		}
	}
	return true
}

// validKey: simple-key = lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*"
// / "/"); multi-tenant-key = tenant-id "@" system-id, tenant-id =
// (lcalpha / DIGIT) 0*240(...), system-id = lcalpha 0*13(...).
func validKey(k []byte) bool {
	tenant, system, multi := bytes.Cut(k, []byte{'@'})
	if !multi {
		return len(k) > 0 && len(k) <= 256 && isLower(k[0]) && keyChars(k[1:])
	}
	return len(tenant) > 0 && len(tenant) <= 241 && (isLower(tenant[0]) || isDigit(tenant[0])) && keyChars(tenant[1:]) &&
		len(system) > 0 && len(system) <= 14 && isLower(system[0]) && keyChars(system[1:])
}

func keyChars(s []byte) bool {
	for _, c := range s {
		if !isLower(c) && !isDigit(c) && c != '_' && c != '-' && c != '*' && c != '/' {
			return false
		}
	}
	return true
}

// validValue: 0*255(chr) nblk-chr, chr = %x20 / nblk-chr, nblk-chr =
// %x21-2B / %x2D-3C / %x3E-7E.
func validValue(v []byte) bool {
	if len(v) == 0 || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
