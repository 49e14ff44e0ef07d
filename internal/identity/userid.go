package identity

import (
	"unicode"
	"unicode/utf8"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// checkUserID refuses a user id the service and its logs cannot carry
// safely: invalid UTF-8, or any control or format character — C0 and C1
// controls (NUL, CR, LF, ESC, DEL, …: log and header injection), the line
// and paragraph separators U+2028/U+2029 (line breaks in JSON-consuming
// JavaScript and in logs), and format characters (category Cf: bidi
// controls such as U+202E and U+2066–U+2069, zero-width characters, BOM),
// which make one user id display as another. what names the source for
// the message, e.g. "The X-MS-CLIENT-PRINCIPAL-ID header".
func checkUserID(uid, what string) error {
	if !utf8.ValidString(uid) {
		return apperr.New(apperr.CodeAuthInvalidUserID, what+" is not valid UTF-8.", "")
	}
	for i, r := range uid {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return apperr.Errorf(apperr.CodeAuthInvalidUserID, "%s contains the control or format character %U at byte %d; user ids must be printable.", what, r, i)
		}
	}
	return nil
}
