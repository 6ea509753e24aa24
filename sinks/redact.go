package sinks

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/internal/config"
)

// Redacted is what a sink prints in place of a secret: the form a
// config.Secret prints as.
const Redacted = config.Redacted

// Secrets are the values a sink must never print: its credentials, and the
// parts of a secret URL as a server's error page or net/http quote them.
// Sinks put every error and every quoted reply through Redact or Scrub. The
// zero value holds none.
type Secrets struct {
	values []string // longest first, so no part of a longer secret is left behind
}

// minURLPart is the shortest part of a URL treated as a secret on its own:
// shorter query values ("1", "on") and paths are too common in messages to
// replace, and are not credentials.
const minURLPart = 4

// NewSecrets returns the secrets among values (empty ones are ignored).
func NewSecrets(values ...string) *Secrets {
	s := &Secrets{}
	for _, v := range values {
		s.add(v)
	}
	return s
}

// AddURL adds a URL that is secret as a whole (a Slack incoming webhook, a
// webhook with a token in it): the URL, its request URI, its path with and
// without the leading slash, its query, its password and its query values.
func (s *Secrets) AddURL(raw string) {
	if raw == "" {
		return
	}
	s.add(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	parts := []string{u.RequestURI(), u.EscapedPath(), strings.TrimPrefix(u.EscapedPath(), "/"), u.RawQuery}
	if p, ok := u.User.Password(); ok {
		parts = append(parts, p)
	}
	for _, vs := range u.Query() {
		parts = append(parts, vs...)
	}
	for _, p := range parts {
		if len(p) >= minURLPart && p != "/" {
			s.add(p)
		}
	}
}

func (s *Secrets) add(v string) {
	if v == "" || slices.Contains(s.values, v) {
		return
	}
	s.values = append(s.values, v)
	slices.SortStableFunc(s.values, func(a, b string) int { return len(b) - len(a) })
}

// Scrub replaces every secret in text with Redacted.
func (s *Secrets) Scrub(text string) string {
	if s == nil {
		return text
	}
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, Redacted)
	}
	return text
}

func (s *Secrets) leaks(text string) bool {
	if s == nil {
		return false
	}
	for _, v := range s.values {
		if strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// Redact returns err with no secret in its text; err itself when it holds
// none. A *url.Error (net/http quotes the request URL in it) is rebuilt
// with Redacted for the URL, so errors.As still finds its cause (a timeout,
// a net.Error); any other error that holds a secret is flattened to its
// scrubbed text.
func (s *Secrets) Redact(err error) error {
	if err == nil || !s.leaks(err.Error()) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) && s.leaks(ue.URL) && !s.leaks(ue.Err.Error()) {
		safe := &url.Error{Op: ue.Op, URL: Redacted, Err: ue.Err}
		if err == error(ue) {
			return safe
		}
		// Wrapped (a client library added context): keep the outer text,
		// scrubbed, over the safe cause.
		return &redactedError{msg: s.Scrub(err.Error()), cause: safe}
	}
	return &redactedError{msg: s.Scrub(err.Error())}
}

// redactedError is an error whose text had secrets removed. cause, when
// set, is a safe (already redacted) form of the original for errors.As.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// CredentialName reports whether a header or query parameter of that name
// likely carries a credential (Authorization, X-Api-Key, Cookie, token=…):
// its value is kept out of errors and shown as Redacted even when it is
// written in the configuration itself.
func CredentialName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "cookie", "token", "secret", "key", "password", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
