// Package webhook delivers events as signed HTTP requests to an internal
// API, following the Standard Webhooks specification: webhook-id stable
// across retries of one delivery, webhook-timestamp of the attempt and, with
// a secret, webhook-signature v1 (HMAC-SHA256) over the body actually sent.
//
// The body is the event JSON, or the map or list a body expression makes of
// the event (the sink's, or the rule's, which wins); the URL and header
// values may be templates over the event; the method is POST, PUT or PATCH.
// So a sink can speak an internal API's own shape without a translating
// service in between.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// Config is the webhook sink's section of rules.yaml.
type Config struct {
	// URL receives the requests (http or https). Its path and query may
	// hold Go templates over the event ({{ .subject }}), each value escaped
	// for where it lands; the scheme and host must be written out.
	URL config.Secret `yaml:"url"`
	// Method is POST, PUT or PATCH. Empty means POST.
	Method string `yaml:"method"`
	// Secret signs each request: "whsec_" followed by base64 (Standard
	// Webhooks), or any other string used as raw key bytes. A list during a
	// key rotation: every secret signs, and webhook-signature carries one
	// space-separated "v1,<sig>" per secret. Empty: unsigned.
	Secret config.SecretList `yaml:"secret"`
	// Headers are added to every request. Values may be Go templates over
	// the event, like URL.
	Headers map[string]string `yaml:"headers"`
	// Body is an expr expression over the event that evaluates to a map or
	// a list, sent as JSON instead of the event JSON. It is compiled by
	// Options.CompileBody. Empty: the event JSON.
	Body string `yaml:"body"`
}

// Methods a webhook sink may use.
var methods = []string{http.MethodPost, http.MethodPut, http.MethodPatch}

// Validate checks the configuration, templates included; the body
// expression is compiled by New. Each error names its key.
func (c *Config) Validate() error {
	_, errs := compile(c)
	return errs.Err()
}

// compiled is the part of a Config that is checked and compiled at load.
type compiled struct {
	method  string
	url     *valueTemplate
	keys    [][]byte
	headers []header
}

type header struct {
	name  string // canonical
	value *valueTemplate
}

func compile(c *Config) (*compiled, config.Errors) {
	var errs config.Errors
	out := &compiled{method: c.Method}
	if c.URL == "" {
		errs = append(errs, config.KeyErrorf("url", "missing url"))
	} else if t, err := compileValue("url", c.URL.Value(), true); err != nil {
		errs = append(errs, config.KeyErrorf("url", "url: %v", err))
	} else if u, err := url.Parse(c.URL.Value()); t.t == nil && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs = append(errs, config.KeyErrorf("url", "url must be an absolute http or https URL"))
	} else {
		out.url = t
	}
	if out.method == "" {
		out.method = http.MethodPost
	} else if !slices.Contains(methods, c.Method) {
		errs = append(errs, config.KeyErrorf("method", "method: %q is not supported (use POST, PUT or PATCH)", c.Method))
	}
	for i, s := range c.Secret {
		k, err := key(s)
		if err != nil {
			errs = append(errs, config.KeyErrorf("secret", "%v", err))
			continue
		}
		if len(k) == 0 {
			if len(c.Secret) > 1 {
				errs = append(errs, config.KeyErrorf("secret", "secret %d of the list is empty", i+1))
			}
			continue
		}
		out.keys = append(out.keys, k)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		if strings.HasPrefix(strings.ToLower(name), "webhook-") || strings.EqualFold(name, "content-type") {
			errs = append(errs, config.KeyErrorf("headers", "header %q is set by switchboard and cannot be overridden", name))
			continue
		}
		t, err := compileValue("header", c.Headers[name], false)
		if err != nil {
			errs = append(errs, config.KeyErrorf("headers", "headers: %s: %v", name, err))
			continue
		}
		out.headers = append(out.headers, header{name: http.CanonicalHeaderKey(name), value: t})
	}
	return out, errs
}

func key(s config.Secret) ([]byte, error) {
	v := s.Value()
	if b64, ok := strings.CutPrefix(v, "whsec_"); ok {
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, errors.New("secret: whsec_ secret is not valid base64 after the prefix")
		}
		return k, nil
	}
	return []byte(v), nil
}

// Body computes a request body from an event: a map or a list, sent as
// JSON. Package rules compiles them (CompileBody), against the event's
// typed fields.
type Body = func(*event.Event) (any, error)

// Options are what a webhook sink takes from outside its own section.
type Options struct {
	// CompileBody compiles Config.Body. Required when Body is set.
	CompileBody func(src string) (Body, error)
	// RuleBodies are the bodies rules give their own deliveries to this
	// sink (a rule's webhook.body), by rule name. They win over Body.
	RuleBodies map[string]Body
}

// Sink sends events to one URL.
type Sink struct {
	name       string
	c          *compiled
	body       Body // nil: the event JSON
	ruleBodies map[string]Body
	client     *http.Client
	now        func() time.Time
	secrets    *sinks.Secrets // the URL and the keys, scrubbed from errors
	secretVals []string
}

// New returns a webhook sink. All its requests share one HTTP client that
// never follows redirects.
func New(name string, cfg Config, opts Options) (*Sink, error) {
	c, errs := compile(&cfg)
	s := &Sink{name: name, c: c, ruleBodies: opts.RuleBodies, now: time.Now}
	if cfg.Body != "" {
		if opts.CompileBody == nil {
			errs = append(errs, config.KeyErrorf("body", "body: no expression compiler given"))
		} else if b, err := opts.CompileBody(cfg.Body); err != nil {
			errs = append(errs, config.KeyErrorf("body", "body: %v", err))
		} else {
			s.body = b
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	s.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	s.secretVals = cfg.Secret.Values()
	s.secrets = s.secretsFor("")
	return s, nil
}

// secretsFor lists what must not appear in an error: the URL (all of it is
// a secret, also its path and query as a server would echo them in an
// error page: "Cannot POST /hook?token=…"), as configured and as rendered
// for this request, the signing secrets, and the values of credential
// headers (Authorization: Bearer …).
func (s *Sink) secretsFor(rendered string) *sinks.Secrets {
	if rendered == s.c.url.src && s.secrets != nil {
		return s.secrets
	}
	values := slices.Clone(s.secretVals)
	for _, h := range s.c.headers {
		if h.value.t == nil && sinks.CredentialName(h.name) {
			values = append(values, credentialParts(h.value.src)...) // a server may quote it in an error reply
		}
	}
	sec := sinks.NewSecrets(values...)
	sec.AddURL(s.c.url.src)
	sec.AddURL(rendered)
	return sec
}

// credentialParts are a credential header's value and, for "Bearer x", x.
func credentialParts(v string) []string {
	out := []string{v}
	if _, cred, ok := strings.Cut(v, " "); ok && len(cred) >= 4 {
		out = append(out, cred)
	}
	return out
}

// Sign returns the Standard Webhooks signature of a message with one key:
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>".
func Sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Send makes the request for one delivery once. A request that cannot be
// built for the message's event (its body or a template fails on it) is a
// permanent failure: retrying would fail the same way.
func (s *Sink) Send(ctx context.Context, m *sinks.Message) error {
	now := s.now()
	r, err := s.Request(m, now)
	if err != nil {
		return sinks.Permanent(fmt.Errorf("webhook %s: %w", s.name, s.secrets.Redact(err)))
	}
	secrets := s.secretsFor(r.URL)
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("webhook %s: build request: %w", s.name, secrets.Redact(err)))
	}
	req.Header = r.Header
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", s.name, secrets.Redact(err)) // Redact keeps the cause: "dial tcp …"
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := fmt.Sprintf("webhook %s: status %d", s.name, resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return sinks.Permanent(&sinks.Error{Err: errors.New(msg + " (redirects are not followed)"), Status: resp.StatusCode})
	}
	if body := strings.TrimSpace(string(snippet)); body != "" {
		msg += ": " + secrets.Scrub(body) // the reply may echo the request's URL
	}
	return sinks.HTTPError(errors.New(msg), resp.StatusCode, resp.Header, now)
}

var _ sinks.Sink = (*Sink)(nil)
