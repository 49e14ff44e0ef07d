package filter_test

import (
	"errors"
	"fmt"

	"github.com/serverless-signalr/functions-go/signalr/filter"
)

func Example() {
	f, err := filter.Parse("startswith(userId, 'listener-') and not ('muted' in groups)")
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Match(filter.Connection{ConnectionID: "c1", UserID: "listener-7"}))
	fmt.Println(f.Match(filter.Connection{ConnectionID: "c2", UserID: "listener-8", Groups: []string{"muted"}}))
	// Output:
	// true
	// false
}

func ExampleParse_error() {
	_, err := filter.Parse("userId eq 'a' and")
	var se *filter.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Pos)
	}
	fmt.Println(err)
	// Output:
	// 17
	// invalid filter at position 17: expected userId, connectionId, groups, a literal ('text', 12, true, false, null), a function such as startswith(...), 'not' or '(', found the end of the filter
}

func ExampleUserIs() {
	// A quote in a user id cannot end the literal early.
	e := filter.Or(filter.UserIs("o'brien"), filter.InGroup("room 1"))
	fmt.Println(e)
	// Output:
	// userId eq 'o''brien' or 'room 1' in groups
}
