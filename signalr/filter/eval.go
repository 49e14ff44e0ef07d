package filter

import (
	"strings"
	"unicode/utf16"
)

// Connection is what a filter sees of a client connection. An empty UserID
// is an anonymous connection: userId is null for it.
type Connection struct {
	ConnectionID string
	UserID       string
	Groups       []string
}

// value is a runtime value; k is tNull for null.
type value struct {
	k    typ
	s    string
	i    int64
	b    bool
	coll []string
}

var null = value{k: tNull}

// Match reports whether the filter selects c.
func (f *Filter) Match(c Connection) bool {
	return eval(f.root, &c).b
}

func eval(e Expr, c *Connection) value {
	switch e := e.(type) {
	case Ident:
		switch e.Name {
		case "userId":
			if c.UserID == "" {
				return null
			}
			return value{k: tString, s: c.UserID}
		case "connectionId":
			return value{k: tString, s: c.ConnectionID}
		case "groups":
			return value{k: tColl, coll: c.Groups}
		}
	case Literal:
		switch v := e.Value.(type) {
		case string:
			return value{k: tString, s: v}
		case int64:
			return value{k: tInt, i: v}
		case bool:
			return value{k: tBool, b: v}
		}
		return null
	case Unary:
		return value{k: tBool, b: !eval(e.X, c).b}
	case Binary:
		switch e.Op {
		case "and":
			return value{k: tBool, b: eval(e.L, c).b && eval(e.R, c).b}
		case "or":
			return value{k: tBool, b: eval(e.L, c).b || eval(e.R, c).b}
		}
		return value{k: tBool, b: compare(e.Op, eval(e.L, c), eval(e.R, c))}
	case Member:
		x := eval(e.X, c)
		if e.Collection != nil {
			if x.k == tNull {
				return value{k: tBool}
			}
			for _, g := range eval(e.Collection, c).coll {
				if g == x.s {
					return value{k: tBool, b: true}
				}
			}
			return value{k: tBool}
		}
		for _, v := range e.List {
			if equal(x, eval(v, c)) {
				return value{k: tBool, b: true}
			}
		}
		return value{k: tBool}
	case Call:
		return call(e, c)
	}
	return null
}

// equal is eq: null equals only null.
func equal(a, b value) bool {
	if a.k == tNull || b.k == tNull {
		return a.k == b.k
	}
	switch a.k {
	case tString:
		return a.s == b.s
	case tInt:
		return a.i == b.i
	case tBool:
		return a.b == b.b
	}
	return false
}

func compare(op string, a, b value) bool {
	switch op {
	case "eq":
		return equal(a, b)
	case "ne":
		return !equal(a, b)
	}
	if a.k == tNull || b.k == tNull {
		return false
	}
	var c int
	if a.k == tInt {
		switch {
		case a.i < b.i:
			c = -1
		case a.i > b.i:
			c = 1
		}
	} else {
		c = strings.Compare(a.s, b.s)
	}
	switch op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0 // le
}

// units is s in UTF-16 code units, as .NET counts string positions.
func units(s string) []uint16 { return utf16.Encode([]rune(s)) }

func call(e Call, c *Connection) value {
	args := make([]value, len(e.Args))
	for i, a := range e.Args {
		args[i] = eval(a, c)
	}
	if e.Name == "length" && args[0].k == tColl {
		return value{k: tInt, i: int64(len(args[0].coll))}
	}
	for _, a := range args {
		if a.k == tNull {
			switch e.Name {
			case "startswith", "endswith", "contains":
				return value{k: tBool}
			}
			return null
		}
	}
	s := args[0].s
	switch e.Name {
	case "startswith":
		return value{k: tBool, b: strings.HasPrefix(s, args[1].s)}
	case "endswith":
		return value{k: tBool, b: strings.HasSuffix(s, args[1].s)}
	case "contains":
		return value{k: tBool, b: strings.Contains(s, args[1].s)}
	case "indexof":
		return value{k: tInt, i: indexUnits(s, args[1].s)}
	case "concat":
		return value{k: tString, s: s + args[1].s}
	case "length":
		return value{k: tInt, i: int64(len(units(s)))}
	case "tolower":
		return value{k: tString, s: strings.ToLower(s)}
	case "toupper":
		return value{k: tString, s: strings.ToUpper(s)}
	case "trim":
		return value{k: tString, s: strings.TrimSpace(s)}
	case "substring":
		u := units(s)
		n := int64(len(u))
		start := min(max(args[1].i, 0), n)
		end := n
		if len(args) > 2 {
			end = start + min(max(args[2].i, 0), n-start)
		}
		return value{k: tString, s: string(utf16.Decode(u[start:end]))}
	}
	return null
}

// indexUnits is the UTF-16 index of sub in s, or -1.
func indexUnits(s, sub string) int64 {
	i := strings.Index(s, sub)
	if i < 0 {
		return -1
	}
	return int64(len(units(s[:i])))
}
