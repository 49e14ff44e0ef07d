package filter

// The identifiers, for building filters.
var (
	UserID       = Ident{Name: "userId"}
	ConnectionID = Ident{Name: "connectionId"}
	Groups       = Ident{Name: "groups"}
)

// Null is the null literal.
var Null = Literal{Value: nil}

// String is a string literal; its text is quoted (' doubled) when written,
// so no value can change the meaning of the filter around it.
func String(s string) Literal { return Literal{Value: s} }

// Int is an integer literal.
func Int(n int64) Literal { return Literal{Value: n} }

// Bool is true or false.
func Bool(b bool) Literal { return Literal{Value: b} }

// Eq is "l eq r".
func Eq(l, r Expr) Expr { return Binary{Op: "eq", L: l, R: r} }

// Ne is "l ne r".
func Ne(l, r Expr) Expr { return Binary{Op: "ne", L: l, R: r} }

// Gt is "l gt r".
func Gt(l, r Expr) Expr { return Binary{Op: "gt", L: l, R: r} }

// Ge is "l ge r".
func Ge(l, r Expr) Expr { return Binary{Op: "ge", L: l, R: r} }

// Lt is "l lt r".
func Lt(l, r Expr) Expr { return Binary{Op: "lt", L: l, R: r} }

// Le is "l le r".
func Le(l, r Expr) Expr { return Binary{Op: "le", L: l, R: r} }

// And joins xs with and (true when xs is empty).
func And(xs ...Expr) Expr { return fold("and", true, xs) }

// Or joins xs with or (false when xs is empty).
func Or(xs ...Expr) Expr { return fold("or", false, xs) }

func fold(op string, empty bool, xs []Expr) Expr {
	if len(xs) == 0 {
		return Bool(empty)
	}
	e := xs[0]
	for _, x := range xs[1:] {
		e = Binary{Op: op, L: e, R: x}
	}
	return e
}

// Not is "not (x)".
func Not(x Expr) Expr { return Unary{Op: "not", X: x} }

// In is "x in (values...)".
func In(x Expr, values ...Expr) Expr { return Member{X: x, List: values} }

// UserIs selects the connections of user id.
func UserIs(id string) Expr { return Eq(UserID, String(id)) }

// ConnectionIs selects the connection id.
func ConnectionIs(id string) Expr { return Eq(ConnectionID, String(id)) }

// UserIn selects the connections of any of the users ids.
func UserIn(ids ...string) Expr { return Member{X: UserID, List: stringLits(ids)} }

// InGroup selects the connections in group: "'group' in groups".
func InGroup(group string) Expr { return Member{X: String(group), Collection: Groups} }

// StartsWith is "startswith(x, 'prefix')".
func StartsWith(x Expr, prefix string) Expr {
	return Call{Name: "startswith", Args: []Expr{x, String(prefix)}}
}

// EndsWith is "endswith(x, 'suffix')".
func EndsWith(x Expr, suffix string) Expr {
	return Call{Name: "endswith", Args: []Expr{x, String(suffix)}}
}

// Contains is "contains(x, 'sub')".
func Contains(x Expr, sub string) Expr {
	return Call{Name: "contains", Args: []Expr{x, String(sub)}}
}

// Length is "length(x)" for a string or groups.
func Length(x Expr) Expr { return Call{Name: "length", Args: []Expr{x}} }

func stringLits(ss []string) []Expr {
	out := make([]Expr, len(ss))
	for i, s := range ss {
		out[i] = String(s)
	}
	return out
}
