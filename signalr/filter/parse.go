package filter

import (
	"fmt"
	"strings"
)

// MaxDepth bounds how deeply a filter may nest (parentheses, not, function
// arguments), so that hostile input cannot exhaust the stack.
const MaxDepth = 100

// SyntaxError is a filter that does not parse or does not type-check: at
// byte offset Pos (counted from 0) the parser expected Expected and found
// Found.
type SyntaxError struct {
	Filter   string
	Pos      int
	Expected string
	Found    string
}

// Error says where, what was expected and what was found.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid filter at position %d: expected %s, found %s", e.Pos, e.Expected, e.Found)
}

// typ is the static type of an expression.
type typ int

const (
	tNull typ = iota // the null literal: compatible with every value type
	tString
	tInt
	tBool
	tColl
)

func (t typ) String() string {
	switch t {
	case tString:
		return "string"
	case tInt:
		return "integer"
	case tBool:
		return "boolean"
	case tColl:
		return "collection"
	}
	return "null"
}

// argKind is what a function parameter accepts.
type argKind int

const (
	argString       argKind = iota // a string or null
	argInt                         // an integer
	argStringOrColl                // length's parameter
)

type funcSig struct {
	name     string
	args     []argKind
	optional int // trailing parameters that may be left out
	result   typ
}

// funcs are the functions of the grammar, by lower-case name.
var funcs = map[string]funcSig{
	"startswith": {"startswith", []argKind{argString, argString}, 0, tBool},
	"endswith":   {"endswith", []argKind{argString, argString}, 0, tBool},
	"contains":   {"contains", []argKind{argString, argString}, 0, tBool},
	"indexof":    {"indexof", []argKind{argString, argString}, 0, tInt},
	"concat":     {"concat", []argKind{argString, argString}, 0, tString},
	"length":     {"length", []argKind{argStringOrColl}, 0, tInt},
	"tolower":    {"tolower", []argKind{argString}, 0, tString},
	"toupper":    {"toupper", []argKind{argString}, 0, tString},
	"trim":       {"trim", []argKind{argString}, 0, tString},
	"substring":  {"substring", []argKind{argString, argInt, argInt}, 1, tString},
}

// identifiers by lower-case name.
var identifiers = map[string]Ident{
	"userid":       {Name: "userId"},
	"connectionid": {Name: "connectionId"},
	"groups":       {Name: "groups"},
}

var compareOps = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true}

// Filter is a parsed, type-checked filter.
type Filter struct {
	root Expr
}

// Parse parses and type-checks a filter. Errors are *SyntaxError.
func Parse(s string) (*Filter, error) {
	p := &parser{lex: lexer{src: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, t, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf(p.tok, "'and', 'or' or the end of the filter")
	}
	if t != tBool {
		return nil, &SyntaxError{Filter: s, Pos: 0, Expected: "a boolean expression", Found: "a " + t.String() + " expression"}
	}
	return &Filter{root: e}, nil
}

// MustParse is Parse for filters known to be valid; it panics on an error.
func MustParse(s string) *Filter {
	f, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return f
}

// New type-checks e (built with this package's builders) and returns it as a
// Filter. It parses e's text, so the Filter is exactly what the service will
// read.
func New(e Expr) (*Filter, error) { return Parse(str(e)) }

// Expr returns the filter's syntax tree.
func (f *Filter) Expr() Expr { return f.root }

// String returns the filter in the service's syntax (canonical spelling).
func (f *Filter) String() string { return str(f.root) }

type parser struct {
	lex   lexer
	tok   token
	depth int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(at token, expected string) *SyntaxError {
	return &SyntaxError{Filter: p.lex.src, Pos: at.pos, Expected: expected, Found: at.describe()}
}

func (p *parser) typeError(pos int, expected string, got typ) *SyntaxError {
	found := "a " + got.String() + " expression"
	if got == tColl {
		found = "the collection groups"
	}
	return &SyntaxError{Filter: p.lex.src, Pos: pos, Expected: expected, Found: found}
}

// isKeyword reports whether the current token is the name kw (any case).
func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tokName && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return &SyntaxError{Filter: p.lex.src, Pos: p.tok.pos, Expected: fmt.Sprintf("at most %d levels of nesting", MaxDepth), Found: "deeper nesting"}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseOr() (Expr, typ, error) {
	return p.parseLogical("or", p.parseAnd)
}

func (p *parser) parseAnd() (Expr, typ, error) {
	return p.parseLogical("and", p.parseCompare)
}

func (p *parser) parseLogical(op string, operand func() (Expr, typ, error)) (Expr, typ, error) {
	start := p.tok.pos
	l, lt, err := operand()
	if err != nil {
		return nil, 0, err
	}
	for p.isKeyword(op) {
		if lt != tBool {
			return nil, 0, p.typeError(start, "a boolean expression on the left of '"+op+"'", lt)
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		rstart := p.tok.pos
		r, rt, err := operand()
		if err != nil {
			return nil, 0, err
		}
		if rt != tBool {
			return nil, 0, p.typeError(rstart, "a boolean expression on the right of '"+op+"'", rt)
		}
		l = Binary{Op: op, L: l, R: r}
	}
	return l, lt, nil
}

// compatible reports whether values of types a and b can be compared.
func compatible(a, b typ) bool {
	return a == tNull || b == tNull || a == b
}

func (p *parser) parseCompare() (Expr, typ, error) {
	start := p.tok.pos
	l, lt, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	if p.tok.kind != tokName {
		return l, lt, nil
	}
	op := strings.ToLower(p.tok.text)
	if op == "in" {
		return p.parseIn(l, lt, start)
	}
	if !compareOps[op] {
		return l, lt, nil
	}
	opTok := p.tok
	if lt == tColl {
		return nil, 0, p.typeError(start, "a string, integer or boolean value on the left of '"+op+"'", lt)
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	rstart := p.tok.pos
	r, rt, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	if rt == tColl {
		return nil, 0, p.typeError(rstart, "a string, integer or boolean value on the right of '"+op+"'", rt)
	}
	if !compatible(lt, rt) {
		return nil, 0, p.typeError(rstart, "a "+lt.String()+" value or null to compare with the "+lt.String()+" on the left", rt)
	}
	if op != "eq" && op != "ne" && (lt == tBool || rt == tBool) {
		return nil, 0, &SyntaxError{Filter: p.lex.src, Pos: opTok.pos, Expected: "eq or ne to compare booleans", Found: "'" + opTok.text + "'"}
	}
	return Binary{Op: op, L: l, R: r}, tBool, nil
}

// parseIn parses the rest of "X in (v, ...)" or "X in groups".
func (p *parser) parseIn(x Expr, xt typ, start int) (Expr, typ, error) {
	if xt == tColl {
		return nil, 0, p.typeError(start, "a value on the left of 'in'", xt)
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	if p.tok.kind != tokLParen {
		at := p.tok
		e, t, err := p.parseUnary()
		if err != nil {
			return nil, 0, err
		}
		if t != tColl {
			return nil, 0, p.errorf(at, "a parenthesised list of values or the collection groups after 'in'")
		}
		return p.inCollection(x, xt, e, start)
	}
	if err := p.enter(); err != nil {
		return nil, 0, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	var list []Expr
	for {
		at := p.tok.pos
		v, vt, err := p.parseOr()
		if err != nil {
			return nil, 0, err
		}
		if vt == tColl {
			if len(list) == 0 && p.tok.kind == tokRParen {
				if err := p.advance(); err != nil {
					return nil, 0, err
				}
				return p.inCollection(x, xt, v, start)
			}
			return nil, 0, p.typeError(at, "a value in the list after 'in'", vt)
		}
		if !compatible(xt, vt) {
			return nil, 0, p.typeError(at, "a "+xt.String()+" value or null in the list, like the left of 'in'", vt)
		}
		list = append(list, v)
		switch p.tok.kind {
		case tokComma:
			if err := p.advance(); err != nil {
				return nil, 0, err
			}
			continue
		case tokRParen:
			if err := p.advance(); err != nil {
				return nil, 0, err
			}
			return Member{X: x, List: list}, tBool, nil
		}
		return nil, 0, p.errorf(p.tok, "',' or ')' in the list after 'in'")
	}
}

func (p *parser) inCollection(x Expr, xt typ, coll Expr, start int) (Expr, typ, error) {
	if xt != tString && xt != tNull {
		return nil, 0, p.typeError(start, "a string on the left of 'in groups'", xt)
	}
	return Member{X: x, Collection: coll}, tBool, nil
}

func (p *parser) parseUnary() (Expr, typ, error) {
	if !p.isKeyword("not") {
		return p.parsePrimary()
	}
	if err := p.enter(); err != nil {
		return nil, 0, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	at := p.tok.pos
	x, t, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	if t != tBool {
		return nil, 0, p.typeError(at, "a boolean expression after 'not' (not binds tighter than comparisons: write not (a eq b))", t)
	}
	return Unary{Op: "not", X: x}, tBool, nil
}

func (p *parser) parsePrimary() (Expr, typ, error) {
	t := p.tok
	switch t.kind {
	case tokString:
		return Literal{Value: t.str}, tString, p.advance()
	case tokInt:
		return Literal{Value: t.num}, tInt, p.advance()
	case tokLParen:
		if err := p.enter(); err != nil {
			return nil, 0, err
		}
		defer p.leave()
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		e, et, err := p.parseOr()
		if err != nil {
			return nil, 0, err
		}
		if p.tok.kind != tokRParen {
			return nil, 0, p.errorf(p.tok, "')' to close the '(' at position "+fmt.Sprint(t.pos))
		}
		return e, et, p.advance()
	case tokName:
		name := strings.ToLower(t.text)
		switch name {
		case "true", "false":
			return Literal{Value: name == "true"}, tBool, p.advance()
		case "null":
			return Literal{Value: nil}, tNull, p.advance()
		}
		if id, ok := identifiers[name]; ok {
			it := tString
			if id.Name == "groups" {
				it = tColl
			}
			return id, it, p.advance()
		}
		if sig, ok := funcs[name]; ok {
			return p.parseCall(t, sig)
		}
	}
	return nil, 0, p.errorf(t, "userId, connectionId, groups, a literal ('text', 12, true, false, null), a function such as startswith(...), 'not' or '('")
}

func (p *parser) parseCall(name token, sig funcSig) (Expr, typ, error) {
	if err := p.enter(); err != nil {
		return nil, 0, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	if p.tok.kind != tokLParen {
		return nil, 0, p.errorf(p.tok, "'(' after the function "+sig.name)
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	var args []Expr
	for i := 0; ; i++ {
		if i >= len(sig.args) {
			return nil, 0, p.errorf(p.tok, fmt.Sprintf("')': %s takes at most %d arguments", sig.name, len(sig.args)))
		}
		at := p.tok.pos
		a, at2, err := p.parseOr()
		if err != nil {
			return nil, 0, err
		}
		if err := checkArg(p, sig, i, at, at2); err != nil {
			return nil, 0, err
		}
		args = append(args, a)
		if p.tok.kind == tokComma {
			if err := p.advance(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if p.tok.kind != tokRParen {
			return nil, 0, p.errorf(p.tok, "',' or ')' in the arguments of "+sig.name)
		}
		if len(args) < len(sig.args)-sig.optional {
			return nil, 0, p.errorf(p.tok, fmt.Sprintf("',' and more arguments: %s takes %d", sig.name, len(sig.args)-sig.optional))
		}
		return Call{Name: sig.name, Args: args}, sig.result, p.advance()
	}
}

func checkArg(p *parser, sig funcSig, i, pos int, t typ) error {
	ok := false
	want := ""
	switch sig.args[i] {
	case argString:
		ok, want = t == tString || t == tNull, "a string"
	case argInt:
		ok, want = t == tInt, "an integer"
	case argStringOrColl:
		ok, want = t == tString || t == tNull || t == tColl, "a string or groups"
	}
	if ok {
		return nil
	}
	return p.typeError(pos, fmt.Sprintf("%s as argument %d of %s", want, i+1, sig.name), t)
}
