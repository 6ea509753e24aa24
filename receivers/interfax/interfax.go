// Package interfax receives InterFAX delivery callbacks: the outbound "Web
// Feedback" fax status and the inbound new-fax notification, each as an HTTP
// form POST or a SOAP 1.1/1.2 call, and turns them into fax.outbound and
// fax.inbound events.
//
// InterFAX documents no callback authentication, so the callback URL carries
// a secret token (?token=… or the basic-auth password), optionally with an
// allow-list of client addresses. See README.md for the configuration, the
// accepted forms and what is inferred rather than documented.
package interfax

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

// MinTokenLen is the shortest callback token accepted, as for admin_token:
// the token is the only credential InterFAX callbacks carry.
const MinTokenLen = 16

// Config is the configuration of one interfax receiver (type: interfax).
type Config struct {
	// Token is the secret InterFAX sends as ?token= in the callback URL or
	// as the basic-auth password, at least MinTokenLen characters.
	// Required unless Unauthenticated.
	Token config.Secret `yaml:"token"`
	// Unauthenticated accepts callbacks without a token. Off by default.
	Unauthenticated bool `yaml:"unauthenticated"`
	// PublicURL is the callback URL as InterFAX reaches it (without the
	// token), used as the WSDL's soap:address behind a proxy. A URL with no
	// path gets /hooks/<name>. Empty: derived from each WSDL request.
	PublicURL string `yaml:"public_url"`
	// AllowIPs lists CIDR prefixes or addresses callbacks may come from.
	// Empty: any address.
	AllowIPs []string `yaml:"allow_ips"`
	// TrustedProxies lists the proxies (CIDRs or addresses) whose
	// X-Forwarded-For names the client. Empty: X-Forwarded-For is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Validate reports every problem in c, as config.Errors without a line (the
// caller places them at the receiver).
func (c *Config) Validate() error {
	var errs config.Errors
	add := func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				errs = append(errs, &config.Error{Msg: e.Error()})
			}
			return
		}
		errs = append(errs, &config.Error{Msg: err.Error()})
	}
	if c.Token.Value() == "" && !c.Unauthenticated {
		add(errors.New("token is required (or set unauthenticated: true to accept unauthenticated callbacks)"))
	}
	if t := c.Token.Value(); t != "" && len(t) < MinTokenLen {
		errs = append(errs, config.KeyErrorf("token", "token must be at least %d characters", MinTokenLen))
	}
	_, err := receivers.NewIPFilter(c.AllowIPs, c.TrustedProxies)
	add(err)
	if c.PublicURL != "" {
		_, err := publicURL(c.PublicURL, "")
		add(err)
	}
	return errs.Err()
}

// publicURL checks a configured public_url and completes a bare base URL
// with /hooks/<name>.
func publicURL(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", errors.New("public_url: not a URL")
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return "", errors.New("public_url: want an absolute http:// or https:// URL")
	case u.User != nil, u.RawQuery != "", u.Fragment != "":
		// The WSDL is public: keep credentials and tokens out of it.
		return "", errors.New("public_url: must not contain credentials, a query or a fragment")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/hooks/" + name
		u.RawPath = ""
	}
	return u.String(), nil
}

// Receiver handles the callbacks of one interfax receiver. It is safe for
// concurrent use.
type Receiver struct {
	name      string
	token     bool     // whether a token is required
	tokenHash [32]byte // SHA-256 of the token: compared in constant time, whatever its length
	filter    *receivers.IPFilter
	publicURL string // "" to derive the WSDL address from the request
}

// New returns the receiver called name (its URL is /hooks/<name>).
func New(name string, cfg Config) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("interfax: %w", err)
	}
	filter, err := receivers.NewIPFilter(cfg.AllowIPs, cfg.TrustedProxies)
	if err != nil {
		return nil, err // unreachable: Validate checked the prefixes
	}
	rc := &Receiver{name: name, filter: filter}
	if cfg.PublicURL != "" {
		if rc.publicURL, err = publicURL(cfg.PublicURL, name); err != nil {
			return nil, err
		}
	}
	if tok := cfg.Token.Value(); tok != "" {
		rc.token, rc.tokenHash = true, sha256.Sum256([]byte(tok))
	}
	return rc, nil
}

// Verify admits a callback from an allowed address (else 403) carrying the
// token as the token query parameter or the basic-auth password (else 401).
// Error messages say no more than "forbidden" or "unauthorized"; the cause,
// free of secrets, is in the error for the log.
func (rc *Receiver) Verify(r *http.Request, _ []byte) error {
	if err := rc.filter.Check(r); err != nil {
		return err
	}
	if !rc.token {
		return nil
	}
	candidates := r.URL.Query()["token"]
	if _, pw, ok := r.BasicAuth(); ok {
		candidates = append(candidates, pw)
	}
	if len(candidates) == 0 {
		return &receivers.Error{Status: http.StatusUnauthorized, Msg: "unauthorized",
			Err: errors.New("no token in the query or basic auth")}
	}
	match := 0
	for i, c := range candidates {
		if i == 4 {
			break // a flood of token= parameters gets no more tries
		}
		h := sha256.Sum256([]byte(c))
		match |= subtle.ConstantTimeCompare(h[:], rc.tokenHash[:])
	}
	if match != 1 {
		return &receivers.Error{Status: http.StatusUnauthorized, Msg: "unauthorized",
			Err: errors.New("wrong token")}
	}
	return nil
}

// PreVerify makes the whole check of Verify, which needs no body, before
// the body is read: a caller outside allow_ips or without the token costs
// no body buffering.
func (rc *Receiver) PreVerify(r *http.Request) error { return rc.Verify(r, nil) }

// Parse decodes a form or SOAP callback into its event. It reads only body
// and the request headers, and has no side effects.
func (rc *Receiver) Parse(r *http.Request, body []byte, _ time.Time) ([]*event.Event, error) {
	k, params, err := kindOf(r)
	if err != nil {
		return nil, err
	}
	var cb callback
	switch k {
	case kindForm:
		cb.fields, err = parseURLEncoded(body, params["charset"])
		if err == nil && len(cb.fields) == 0 {
			err = receivers.Errorf(http.StatusBadRequest, "empty body: want an InterFAX callback form")
		}
	case kindMultipart:
		cb.fields, err = parseMultipart(body, params)
	default:
		cb, err = parseSOAP(body, params)
	}
	if err != nil {
		return nil, err
	}
	ev, err := normalize(cb)
	if err != nil {
		if k == kindForm && looksLikeXML(body) {
			return nil, receivers.Errorf(http.StatusUnsupportedMediaType,
				"body looks like XML: send SOAP with Content-Type text/xml or application/soap+xml")
		}
		return nil, err
	}
	return []*event.Event{ev}, nil
}

func looksLikeXML(body []byte) bool {
	s := strings.TrimLeft(string(body[:min(len(body), 64)]), "\ufeff \t\r\n")
	return strings.HasPrefix(s, "<")
}

var (
	_ receivers.Receiver    = (*Receiver)(nil)
	_ receivers.GetHandler  = (*Receiver)(nil)
	_ receivers.PreVerifier = (*Receiver)(nil)
)
