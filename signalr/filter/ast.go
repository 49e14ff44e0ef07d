package filter

import (
	"strconv"
	"strings"
)

// Expr is a node of a filter's syntax tree: Ident, Literal, Call, Unary,
// Binary or Member. Its String method writes it in the service's syntax with the
// fewest parentheses that keep its structure, so that parsing the text gives
// the same tree back.
type Expr interface {
	String() string
	write(b *strings.Builder, min int)
}

// Ident is one of the identifiers userId, connectionId and groups, with the
// name spelled as here (the parser accepts any case).
type Ident struct {
	Name string
}

// Literal is a constant: a string, an int64, a bool, or nil for null.
type Literal struct {
	Value any
}

// Call is a function call; Name is lower case (startswith, length, ...).
type Call struct {
	Name string
	Args []Expr
}

// Unary is "not X".
type Unary struct {
	Op string // "not"
	X  Expr
}

// Binary is "L Op R" for the logical operators and, or and the comparisons
// eq, ne, gt, ge, lt, le.
type Binary struct {
	Op   string
	L, R Expr
}

// Member is "X in (List...)" or, when Collection is set, "X in Collection"
// (Collection is the groups identifier).
type Member struct {
	X          Expr
	List       []Expr
	Collection Expr
}

// Precedence levels, loosest first.
const (
	precOr = iota + 1
	precAnd
	precCompare
	precUnary
	precPrimary
)

func binaryPrec(op string) int {
	switch op {
	case "or":
		return precOr
	case "and":
		return precAnd
	}
	return precCompare
}

func prec(e Expr) int {
	switch e := e.(type) {
	case Binary:
		return binaryPrec(e.Op)
	case Member:
		return precCompare
	case Unary:
		return precUnary
	}
	return precPrimary
}

// writeAt writes e, in parentheses when it binds more loosely than min.
func writeAt(b *strings.Builder, e Expr, min int) {
	if e == nil {
		b.WriteString("null")
		return
	}
	if prec(e) < min {
		b.WriteByte('(')
		e.write(b, precOr)
		b.WriteByte(')')
		return
	}
	e.write(b, min)
}

func str(e Expr) string {
	var b strings.Builder
	writeAt(&b, e, precOr)
	return b.String()
}

// Quote returns s as a filter string literal: in single quotes, each ' doubled.
func Quote(s string) string {
	var b strings.Builder
	writeQuoted(&b, s)
	return b.String()
}

func writeQuoted(b *strings.Builder, s string) {
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			break
		}
		b.WriteString(s[:i+1])
		b.WriteByte('\'')
		s = s[i+1:]
	}
	b.WriteString(s)
	b.WriteByte('\'')
}

func (e Ident) String() string                  { return e.Name }
func (e Ident) write(b *strings.Builder, _ int) { b.WriteString(e.Name) }

func (e Literal) String() string { return str(e) }
func (e Literal) write(b *strings.Builder, _ int) {
	switch v := e.Value.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeQuoted(b, v)
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	default:
		// Not a literal the language has: write something that does not
		// parse rather than something that means another thing.
		b.WriteString("<invalid literal>")
	}
}

func (e Call) String() string { return str(e) }
func (e Call) write(b *strings.Builder, _ int) {
	b.WriteString(e.Name)
	writeList(b, e.Args)
}

// writeList writes "(x, y, …)", each element a whole expression.
func writeList(b *strings.Builder, xs []Expr) {
	b.WriteByte('(')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		writeAt(b, x, precOr)
	}
	b.WriteByte(')')
}

func (e Unary) String() string { return str(e) }
func (e Unary) write(b *strings.Builder, _ int) {
	b.WriteString(e.Op)
	b.WriteByte(' ')
	writeAt(b, e.X, precUnary)
}

func (e Binary) String() string { return str(e) }
func (e Binary) write(b *strings.Builder, _ int) {
	// and/or associate to the left; comparisons do not chain: both sides
	// are unary expressions.
	lp, rp := binaryPrec(e.Op), binaryPrec(e.Op)+1
	if lp == precCompare {
		lp, rp = precUnary, precUnary
	}
	writeAt(b, e.L, lp)
	b.WriteByte(' ')
	b.WriteString(e.Op)
	b.WriteByte(' ')
	writeAt(b, e.R, rp)
}

func (e Member) String() string { return str(e) }
func (e Member) write(b *strings.Builder, _ int) {
	writeAt(b, e.X, precUnary)
	b.WriteString(" in ")
	if e.Collection != nil {
		writeAt(b, e.Collection, precPrimary)
		return
	}
	writeList(b, e.List)
}
