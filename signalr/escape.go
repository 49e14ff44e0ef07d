package signalr

// escapeDataString percent-encodes s the way .NET's Uri.EscapeDataString
// does, which is how the official SDK escapes hub names, user ids, group
// names and connection ids in REST paths: only the RFC 3986 unreserved
// characters A-Z a-z 0-9 - . _ ~ stay as they are; every other byte of the
// UTF-8 encoding becomes %XX with upper-case hex digits ("/" becomes %2F,
// space %20, ":" %3A). url.PathEscape is not a substitute: it leaves
// ":@&=+$,;" unescaped, so the request path and the token audience would no
// longer match the SDK byte for byte.
func escapeDataString(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&0xF])
	}
	return string(b)
}

// unreserved reports whether c is an RFC 3986 unreserved character.
func unreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '.', c == '_', c == '~':
		return true
	}
	return false
}
