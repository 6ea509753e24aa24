package telesign

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/switchboard/switchboard/receivers"
)

// Reasons for refusing a callback. They are shown to the caller, so they say
// what is wrong without revealing anything about the expected values.
var (
	errMissingAuth   = unauthorized("missing Authorization header")
	errScheme        = unauthorized("unsupported authorization scheme (want TSA)")
	errMalformedAuth = unauthorized("malformed TSA credentials (want TSA <customer_id>:<signature>)")
	errCustomer      = unauthorized("customer id does not match")
	errBadSignature  = unauthorized("signature does not match the body")
)

func unauthorized(msg string) *receivers.Error {
	return &receivers.Error{Status: http.StatusUnauthorized, Msg: msg}
}

// Sign returns the signature Telesign puts after the ':' of its TSA
// Authorization header: base64(HMAC-SHA256(base64-decoded apiKey, body)).
// Tests and tools use it to sign recorded callbacks.
func Sign(apiKey string, body []byte) (string, error) {
	key, err := decodeAPIKey(apiKey)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(mac(key, body)), nil
}

func mac(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return h.Sum(nil)
}

// maxCandidates bounds the credentials looked at per request. Telesign
// sends one in each of two headers; a request with hundreds of them gets no
// more tries, whatever they hold.
const maxCandidates = 4

// onMAC, when set (by tests), is called for every HMAC computed over a
// body.
var onMAC func()

// credential is a well-formed TSA credential whose customer id matches.
type credential struct {
	sig []byte
}

// credentials parses the first maxCandidates values of Authorization and
// X-TS-Authorization, in that order, into the credentials worth checking
// against the body. reasons has one entry per value looked at: nil for a
// credential, else why the value was refused.
func (rc *Receiver) credentials(r *http.Request) (creds []credential, reasons []error) {
	for _, name := range [...]string{"Authorization", "X-TS-Authorization"} {
		for _, v := range r.Header.Values(name) {
			if len(reasons) == maxCandidates {
				return creds, reasons
			}
			c, err := rc.parseCredential(v)
			if err == nil {
				creds = append(creds, c)
			}
			reasons = append(reasons, err)
		}
	}
	return creds, reasons
}

// firstReason is the reason a request is refused: that of the first TSA
// credential, or of the first header at all; a credential (nil) counts as
// a bad signature.
func firstReason(reasons []error) error {
	var first error
	for _, err := range reasons {
		if err == nil {
			err = errBadSignature
		}
		if first == nil || (first == errScheme && err != errScheme) {
			first = err
		}
	}
	if first == nil {
		return errMissingAuth
	}
	return first
}

// PreVerify refuses, before the body is read, a request that carries no
// well-formed TSA credential for the configured customer id.
func (rc *Receiver) PreVerify(r *http.Request) error {
	if rc.key == nil {
		return nil // unauthenticated: true, checked by Validate
	}
	if creds, reasons := rc.credentials(r); len(creds) == 0 {
		return firstReason(reasons)
	}
	return nil
}

// Verify authenticates a callback by its TSA signature over the raw body.
//
// Telesign sends the same credentials in Authorization and X-TS-Authorization.
// Both are tried, Authorization first, so a proxy that replaces
// Authorization with its own scheme does not break verification. The first
// TSA credential that verifies wins; otherwise the reason of the first TSA
// credential (or of the first header at all) is returned. The body's MAC is
// computed once, however many credentials there are, and at most
// maxCandidates header values are looked at.
func (rc *Receiver) Verify(r *http.Request, body []byte) error {
	if rc.key == nil {
		return nil // unauthenticated: true, checked by Validate
	}
	if r == nil {
		return errMissingAuth
	}
	creds, reasons := rc.credentials(r)
	if len(creds) == 0 {
		return firstReason(reasons)
	}
	if onMAC != nil {
		onMAC()
	}
	sum := mac(rc.key, body)
	ok := 0
	for _, c := range creds {
		ok |= subtle.ConstantTimeCompare(sum, c.sig)
	}
	if ok != 1 {
		return firstReason(reasons)
	}
	return nil
}

// parseCredential parses one header value of the form
// "TSA <customer_id>:<sig>" and checks its customer id.
func (rc *Receiver) parseCredential(header string) (credential, error) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		if strings.EqualFold(scheme, "TSA") {
			return credential{}, errMalformedAuth
		}
		return credential{}, errScheme
	}
	if !strings.EqualFold(scheme, "TSA") {
		return credential{}, errScheme
	}
	// Base64 has no ':', so the last one separates the signature even if a
	// customer id ever contained one.
	cred = strings.TrimSpace(cred)
	i := strings.LastIndexByte(cred, ':')
	if i < 0 {
		return credential{}, errMalformedAuth
	}
	customer, sigText := strings.TrimSpace(cred[:i]), strings.TrimSpace(cred[i+1:])
	sig, err := decodeSignature(sigText)
	if err != nil {
		return credential{}, errMalformedAuth
	}
	// The customer id is not secret, so a mismatch has its own reason to
	// help an operator fix a misconfiguration; it is still compared in
	// constant time, as the signature is.
	if rc.customerID != "" &&
		subtle.ConstantTimeCompare([]byte(strings.ToUpper(customer)), []byte(rc.customerID)) != 1 {
		return credential{}, errCustomer
	}
	return credential{sig: sig}, nil
}

var strictRaw = base64.RawStdEncoding.Strict()

var errSigLen = errors.New("signature is not 32 bytes")

// decodeSignature accepts standard base64 with or without padding, in its
// canonical form only (strict: no stray bits in the last character).
func decodeSignature(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if len(s) > base64.RawStdEncoding.EncodedLen(sha256.Size) {
		return nil, errSigLen
	}
	b, err := strictRaw.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) != sha256.Size {
		return nil, errSigLen
	}
	return b, nil
}
