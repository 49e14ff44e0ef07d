package identity_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
)

// Resolve a request carrying an HS256 bearer token, then one whose token has
// expired.
func Example() {
	secret := []byte("an-example-secret-of-at-least-32-bytes")
	r, err := identity.New(identity.Config{
		HS256Secret: secret,
		Audiences:   []string{"api://signalr"},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	mint := func(exp time.Time) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "alice", "aud": "api://signalr", "role": []string{"admin", "ops"}, "exp": exp.Unix(),
		}).SignedString(secret)
		return s
	}

	req := httptest.NewRequest("POST", "/api/negotiate", nil)
	req.Header.Set("Authorization", "Bearer "+mint(time.Now().Add(time.Hour)))
	p, err := r.Resolve(req)
	fmt.Println(p.UserID, p.Source, p.HasRole("admin"), err)
	fmt.Println(p.ClaimsOfTypes([]string{"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}))

	req.Header.Set("Authorization", "Bearer "+mint(time.Now().Add(-time.Hour)))
	_, err = r.Resolve(req)
	fmt.Println(apperr.Code(err), apperr.Status(apperr.Code(err)))
	// Output:
	// alice bearer true <nil>
	// [{role admin} {role ops}]
	// auth.token_expired 401
}

// A request without credentials is anonymous only when that is allowed.
func ExampleResolver_Resolve_anonymous() {
	r, _ := identity.New(identity.Config{AllowAnonymous: false})
	defer r.Close()
	_, err := r.Resolve(httptest.NewRequest("POST", "/api/negotiate", nil))
	fmt.Println(apperr.Code(err))
	// Output: negotiate.unauthenticated
}
