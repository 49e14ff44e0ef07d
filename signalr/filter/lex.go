package filter

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokName
	tokString
	tokInt
	tokLParen
	tokRParen
	tokComma
)

// token is one lexeme; pos is its byte offset in the filter.
type token struct {
	kind tokKind
	pos  int
	text string // the source text (for names: as written)
	str  string // tokString: the value, quotes removed and '' unescaped
	num  int64  // tokInt
}

// describe names the token for "found ..." in errors.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the filter"
	case tokString:
		return "the string " + t.text
	case tokInt:
		return "the number " + t.text
	}
	return "'" + t.text + "'"
}

// lexer splits a filter into tokens.
type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case c == '(':
		l.pos++
		return token{kind: tokLParen, pos: start, text: "("}, nil
	case c == ')':
		l.pos++
		return token{kind: tokRParen, pos: start, text: ")"}, nil
	case c == ',':
		l.pos++
		return token{kind: tokComma, pos: start, text: ","}, nil
	case c == '\'':
		return l.lexString()
	case isDigit(c) || (c == '-' || c == '+') && start+1 < len(l.src) && isDigit(l.src[start+1]):
		l.pos++
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		text := l.src[start:l.pos]
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return token{}, &SyntaxError{Filter: l.src, Pos: start, Expected: "an integer between -9223372036854775808 and 9223372036854775807", Found: "the number " + text}
		}
		return token{kind: tokInt, pos: start, text: text, num: n}, nil
	case isLetter(c):
		for l.pos < len(l.src) && (isLetter(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		return token{kind: tokName, pos: start, text: l.src[start:l.pos]}, nil
	}
	found := fmt.Sprintf("%q", c)
	if c >= 0x20 && c < 0x7f {
		found = "'" + string(c) + "'"
	}
	return token{}, &SyntaxError{Filter: l.src, Pos: start, Expected: "a name, a literal, '(', ')' or ','", Found: found}
}

// lexString reads a quoted string; ” inside stands for one quote.
func (l *lexer) lexString() (token, error) {
	start := l.pos
	var b strings.Builder
	i := start + 1
	for {
		j := strings.IndexByte(l.src[i:], '\'')
		if j < 0 {
			return token{}, &SyntaxError{Filter: l.src, Pos: start, Expected: "a closing ' for the string that starts here (write '' for a quote inside a string)", Found: "the end of the filter"}
		}
		b.WriteString(l.src[i : i+j])
		i += j + 1
		if i < len(l.src) && l.src[i] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		break
	}
	l.pos = i
	return token{kind: tokString, pos: start, text: l.src[start:i], str: b.String()}, nil
}
