package filter_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/serverless-signalr/functions-go/signalr/filter"
)

// This file checks the package against a reference written separately: a
// random generator of well-typed filters that writes each one fully
// parenthesised, with names in random case and random spacing, and evaluates
// it directly, without the package's tree.

// ref is a generated filter: its text and its meaning.
type ref struct {
	text string
	eval func(c *filter.Connection) refVal
}

// refVal is a value: nil for null, string, int64 or bool.
type refVal = any

type gen struct {
	r *rand.Rand
}

var words = []string{"", "a", "alice", "bob", "o'brien", "'", "Alice", "room1", "x y", "listener-1", "日本"}

func (g *gen) word() string { return words[g.r.IntN(len(words))] }

// cased writes a name in random case.
func (g *gen) cased(s string) string {
	b := []byte(s)
	for i := range b {
		if g.r.IntN(2) == 0 {
			b[i] = strings.ToUpper(string(b[i]))[0]
		} else {
			b[i] = strings.ToLower(string(b[i]))[0]
		}
	}
	return string(b)
}

func (g *gen) sp() string { return []string{" ", "  ", "\t", " \n "}[g.r.IntN(4)] }

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (g *gen) boolean(d int) ref {
	n := 9
	if d <= 0 {
		n = 2
	}
	switch g.r.IntN(n) {
	case 0:
		v := g.r.IntN(2) == 0
		return ref{g.cased(fmt.Sprint(v)), func(*filter.Connection) refVal { return v }}
	case 1:
		s := g.str(d - 1)
		coll := g.cased("groups")
		if g.r.IntN(3) == 0 {
			coll = "(" + coll + ")"
		}
		return ref{"(" + s.text + ")" + g.sp() + g.cased("in") + g.sp() + coll, func(c *filter.Connection) refVal {
			v := s.eval(c)
			for _, x := range c.Groups {
				if x == v {
					return true
				}
			}
			return false
		}}
	case 2, 3:
		op := []string{"and", "or"}[g.r.IntN(2)]
		l, r := g.boolean(d-1), g.boolean(d-1)
		return ref{"(" + l.text + ")" + g.sp() + g.cased(op) + g.sp() + "(" + r.text + ")", func(c *filter.Connection) refVal {
			if op == "and" {
				return l.eval(c).(bool) && r.eval(c).(bool)
			}
			return l.eval(c).(bool) || r.eval(c).(bool)
		}}
	case 4:
		x := g.boolean(d - 1)
		return ref{g.cased("not") + g.sp() + "(" + x.text + ")", func(c *filter.Connection) refVal { return !x.eval(c).(bool) }}
	case 5:
		var l, r ref
		if g.r.IntN(2) == 0 {
			l, r = g.str(d-1), g.str(d-1)
		} else {
			l, r = g.integer(d-1), g.integer(d-1)
		}
		op := []string{"eq", "ne", "gt", "ge", "lt", "le"}[g.r.IntN(6)]
		return ref{"(" + l.text + ")" + g.sp() + g.cased(op) + g.sp() + "(" + r.text + ")", func(c *filter.Connection) refVal {
			return refCompare(op, l.eval(c), r.eval(c))
		}}
	case 6:
		fn := []string{"startswith", "endswith", "contains"}[g.r.IntN(3)]
		a, b := g.str(d-1), g.str(d-1)
		return ref{g.cased(fn) + "(" + a.text + "," + g.sp() + b.text + ")", func(c *filter.Connection) refVal {
			x, ok1 := a.eval(c).(string)
			y, ok2 := b.eval(c).(string)
			if !ok1 || !ok2 {
				return false
			}
			switch fn {
			case "startswith":
				return len(x) >= len(y) && x[:len(y)] == y
			case "endswith":
				return len(x) >= len(y) && x[len(x)-len(y):] == y
			}
			return strings.Contains(x, y)
		}}
	case 7:
		x := g.str(d - 1)
		var items []ref
		for range 1 + g.r.IntN(3) {
			items = append(items, g.str(d-1))
		}
		texts := make([]string, len(items))
		for i, it := range items {
			texts[i] = it.text
		}
		return ref{"(" + x.text + ")" + g.sp() + g.cased("in") + g.sp() + "(" + strings.Join(texts, ", ") + ")", func(c *filter.Connection) refVal {
			v := x.eval(c)
			for _, it := range items {
				if v == it.eval(c) {
					return true
				}
			}
			return false
		}}
	default:
		l, r := g.boolean(d-1), g.boolean(d-1)
		op := []string{"eq", "ne"}[g.r.IntN(2)]
		return ref{"(" + l.text + ") " + op + " (" + r.text + ")", func(c *filter.Connection) refVal {
			return (l.eval(c) == r.eval(c)) == (op == "eq")
		}}
	}
}

func refCompare(op string, a, b refVal) bool {
	if a == nil || b == nil {
		switch op {
		case "eq":
			return a == b
		case "ne":
			return a != b
		}
		return false
	}
	var c int
	switch x := a.(type) {
	case string:
		y := b.(string)
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case int64:
		y := b.(int64)
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	}
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0
}

func (g *gen) str(d int) ref {
	n := 7
	if d <= 0 {
		n = 4
	}
	switch g.r.IntN(n) {
	case 0:
		return ref{g.cased("userId"), func(c *filter.Connection) refVal {
			if c.UserID == "" {
				return nil
			}
			return c.UserID
		}}
	case 1:
		return ref{g.cased("connectionId"), func(c *filter.Connection) refVal { return c.ConnectionID }}
	case 2:
		w := g.word()
		return ref{quote(w), func(*filter.Connection) refVal { return w }}
	case 3:
		if g.r.IntN(3) == 0 {
			return ref{g.cased("null"), func(*filter.Connection) refVal { return nil }}
		}
		w := g.word()
		return ref{"(" + quote(w) + ")", func(*filter.Connection) refVal { return w }}
	case 4:
		fn := []string{"tolower", "toupper"}[g.r.IntN(2)]
		x := g.str(d - 1)
		return ref{g.cased(fn) + "(" + x.text + ")", func(c *filter.Connection) refVal {
			s, ok := x.eval(c).(string)
			if !ok {
				return nil
			}
			if fn == "tolower" {
				return strings.ToLower(s)
			}
			return strings.ToUpper(s)
		}}
	case 5:
		a, b := g.str(d-1), g.str(d-1)
		return ref{g.cased("concat") + "(" + a.text + ", " + b.text + ")", func(c *filter.Connection) refVal {
			x, ok1 := a.eval(c).(string)
			y, ok2 := b.eval(c).(string)
			if !ok1 || !ok2 {
				return nil
			}
			return x + y
		}}
	default:
		x := g.str(d - 1)
		start := int64(g.r.IntN(5) - 1)
		length := int64(g.r.IntN(4))
		return ref{fmt.Sprintf("%s(%s, %d, %d)", g.cased("substring"), x.text, start, length), func(c *filter.Connection) refVal {
			s, ok := x.eval(c).(string)
			if !ok {
				return nil
			}
			u := utf16.Encode([]rune(s))
			lo := start
			if lo < 0 {
				lo = 0
			}
			if lo > int64(len(u)) {
				lo = int64(len(u))
			}
			hi := lo + length
			if hi > int64(len(u)) {
				hi = int64(len(u))
			}
			return string(utf16.Decode(u[lo:hi]))
		}}
	}
}

func (g *gen) integer(d int) ref {
	n := 4
	if d <= 0 {
		n = 1
	}
	switch g.r.IntN(n) {
	case 0:
		v := int64(g.r.IntN(9) - 3)
		text := fmt.Sprint(v)
		if v >= 0 && g.r.IntN(3) == 0 {
			text = "+" + text
		}
		return ref{text, func(*filter.Connection) refVal { return v }}
	case 1:
		return ref{g.cased("length") + "(" + g.cased("groups") + ")", func(c *filter.Connection) refVal { return int64(len(c.Groups)) }}
	case 2:
		x := g.str(d - 1)
		return ref{g.cased("length") + "(" + x.text + ")", func(c *filter.Connection) refVal {
			s, ok := x.eval(c).(string)
			if !ok {
				return nil
			}
			return int64(len(utf16.Encode([]rune(s))))
		}}
	default:
		a, b := g.str(d-1), g.str(d-1)
		return ref{g.cased("indexof") + "(" + a.text + ", " + b.text + ")", func(c *filter.Connection) refVal {
			x, ok1 := a.eval(c).(string)
			y, ok2 := b.eval(c).(string)
			if !ok1 || !ok2 {
				return nil
			}
			i := strings.Index(x, y)
			if i < 0 {
				return int64(-1)
			}
			return int64(len(utf16.Encode([]rune(x[:i]))))
		}}
	}
}

func (g *gen) conn() filter.Connection {
	c := filter.Connection{ConnectionID: g.word(), UserID: g.word()}
	for range g.r.IntN(3) {
		c.Groups = append(c.Groups, g.word())
	}
	return c
}

func TestAgainstReference(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(12, 2026))}
	conns := make([]filter.Connection, 40)
	for i := range conns {
		conns[i] = g.conn()
	}
	for i := range 3000 {
		rf := g.boolean(1 + i%5)
		f, err := filter.Parse(rf.text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", rf.text, err)
		}
		// The package's own printing must mean the same and parse back to
		// the same tree.
		g2, err := filter.Parse(f.String())
		if err != nil {
			t.Fatalf("Parse(%q) (printed from %q): %v", f.String(), rf.text, err)
		}
		if !reflect.DeepEqual(f.Expr(), g2.Expr()) {
			t.Fatalf("%q printed as %q parses to another tree", rf.text, f.String())
		}
		for _, c := range conns {
			want := rf.eval(&c).(bool)
			if got := f.Match(c); got != want {
				t.Fatalf("%q on %+v: Match = %v, reference = %v", rf.text, c, got, want)
			}
		}
	}
}
