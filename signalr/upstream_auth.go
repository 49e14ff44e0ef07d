package signalr

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strings"
)

// signaturePrefix starts every entry of X-ASRS-Signature.
const signaturePrefix = "sha256="

// UpstreamSignature returns the X-ASRS-Signature value the service sends for
// connectionID: "sha256=<HEX>" per key, comma-separated, each the upper-case
// hex HMAC-SHA256 of the UTF-8 connection id keyed with the UTF-8 AccessKey
// (concept-upstream.md, "Signature"; Microsoft's emulator computes it the
// same way in Common/Utils.cs). Empty keys are skipped.
func UpstreamSignature(connectionID string, keys ...string) string {
	var b []byte
	for _, k := range keys {
		if k == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, signaturePrefix...)
		s, _ := signerFor(AccessKey{Value: k}) // k is not empty: no error
		var sum [sha256.Size]byte
		b = appendUpperHex(b, s.appendMAC(sum[:0], connectionID))
	}
	return string(b)
}

func appendUpperHex(dst, src []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range src {
		dst = append(dst, digits[c>>4], digits[c&0xf])
	}
	return dst
}

// authenticate accepts the call when a listed signature matches any key
// (any case of hex digits), else when VerifyToken accepts its bearer token,
// else when unsigned calls are allowed and it carries no signature. It
// returns the matched key's endpoint index (-1 otherwise).
func (v *UpstreamValidator) authenticate(r *http.Request, connectionID string) (int, error) {
	sig := header(r.Header, canonSignature)
	var sigErr *UpstreamError
	if sig != "" {
		ep, err := v.checkSignature(sig, connectionID)
		if err == nil {
			return ep, nil
		}
		sigErr = err
	}
	if v.verifyToken != nil && hasBearer(r) {
		if err := v.verifyToken(r); err != nil {
			return -1, upstreamErr(UpstreamTokenInvalid, "the upstream bearer token was refused: "+err.Error())
		}
		return -1, nil
	}
	switch {
	case sigErr != nil:
		return -1, sigErr
	case v.allowUnsigned:
		return -1, nil
	case len(v.keys) > 0:
		return -1, upstreamErr(UpstreamSignatureMissing, "the call has no X-ASRS-Signature header: it does not come from the service, or the service has no access key for this endpoint")
	}
	return -1, upstreamErr(UpstreamUnauthenticated, "the call has neither a signature nor a managed-identity bearer token, and no AccessKey is configured to require a signature with (Microsoft Entra ID endpoints)")
}

// checkSignature compares every "sha256=<hex>" entry of sig with the MAC of
// connectionID under every key, in constant time per comparison.
func (v *UpstreamValidator) checkSignature(sig, connectionID string) (int, *UpstreamError) {
	if len(v.keys) == 0 {
		return -1, upstreamErr(UpstreamSignatureMismatch, "the call is signed, but no endpoint has an AccessKey to check the signature with")
	}
	sums := make([]byte, 0, len(v.keys)*sha256.Size)
	for _, k := range v.keys {
		sums = k.signer.appendMAC(sums, connectionID)
	}
	wellFormed := 0
	rest := sig
	for rest != "" {
		var entry string
		entry, rest, _ = strings.Cut(rest, ",")
		entry = strings.TrimSpace(entry)
		if len(entry) < len(signaturePrefix) || !strings.EqualFold(entry[:len(signaturePrefix)], signaturePrefix) {
			continue
		}
		h := entry[len(signaturePrefix):]
		var got [sha256.Size]byte
		if !decodeHex(got[:], h) {
			continue
		}
		wellFormed++
		for i := range v.keys {
			if hmac.Equal(got[:], sums[i*sha256.Size:(i+1)*sha256.Size]) {
				return v.keys[i].endpoint, nil
			}
		}
	}
	if wellFormed == 0 {
		return -1, upstreamErr(UpstreamSignatureMalformed, "X-ASRS-Signature has no entry of the form sha256=<64 hex digits>")
	}
	return -1, upstreamErr(UpstreamSignatureMismatch, "no X-ASRS-Signature entry matches the connection id under any configured AccessKey: it was signed with a key that is not configured (rotated, or another endpoint's)")
}

// decodeHex decodes s (upper or lower case) into dst, which it must fill
// exactly.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func hasBearer(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return len(a) > 7 && strings.EqualFold(a[:7], "bearer ")
}
