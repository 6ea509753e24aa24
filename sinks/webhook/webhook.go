// Package webhook delivers events as signed HTTP POSTs to an internal API,
// following the Standard Webhooks specification: the event JSON as body,
// webhook-id stable across retries of one delivery, webhook-timestamp of the
// attempt and, with a secret, webhook-signature v1 (HMAC-SHA256).
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
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/sinks"
)

// Config is the webhook sink's section of rules.yaml.
type Config struct {
	// URL receives the POSTs (http or https).
	URL config.Secret `yaml:"url"`
	// Secret signs each request: "whsec_" followed by base64 (Standard
	// Webhooks), or any other string used as raw key bytes. Empty: unsigned.
	Secret config.Secret `yaml:"secret"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers"`
}

// Validate checks the URL and the secret.
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("missing url"))
	} else if u, err := url.Parse(c.URL.Value()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("url must be an absolute http or https URL"))
	}
	if _, err := key(c.Secret); err != nil {
		errs = append(errs, err)
	}
	for k := range c.Headers {
		if strings.HasPrefix(strings.ToLower(k), "webhook-") || strings.EqualFold(k, "content-type") {
			errs = append(errs, fmt.Errorf("header %q is set by switchboard and cannot be overridden", k))
		}
	}
	return errors.Join(errs...)
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

// Sink posts events to one URL.
type Sink struct {
	name    string
	url     string
	key     []byte
	headers http.Header
	client  *http.Client
	now     func() time.Time
	secrets *sinks.Secrets // the URL and the key, scrubbed from errors
}

// New returns a webhook sink. All its requests share one HTTP client that
// never follows redirects.
func New(name string, cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	k, _ := key(cfg.Secret)
	h := http.Header{}
	for name, v := range cfg.Headers {
		h.Set(name, v)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	return &Sink{
		name:    name,
		url:     cfg.URL.Value(),
		key:     k,
		headers: h,
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		now:     time.Now,
		secrets: secrets(cfg),
	}, nil
}

// secrets lists what must not appear in an error: the URL (all of it is a
// secret, also its path and query as a server would echo them in an error
// page: "Cannot POST /hook?token=…") and the signing secret.
func secrets(cfg Config) *sinks.Secrets {
	s := sinks.NewSecrets(cfg.Secret.Value())
	s.AddURL(cfg.URL.Value())
	return s
}

// Sign returns the Standard Webhooks signature header value for a message.
func Sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Send posts the event JSON once.
func (s *Sink) Send(ctx context.Context, m *sinks.Message) error {
	now := s.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(m.EventJSON))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("webhook %s: build request: %w", s.name, s.secrets.Redact(err)))
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "switchboard")
	req.Header.Set("webhook-id", m.DeliveryID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if len(s.key) > 0 {
		req.Header.Set("webhook-signature", Sign(s.key, m.DeliveryID, ts, m.EventJSON))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", s.name, s.secrets.Redact(err)) // Redact keeps the cause: "dial tcp …"
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
		msg += ": " + s.secrets.Scrub(body) // the reply may echo the request's URL
	}
	return sinks.HTTPError(errors.New(msg), resp.StatusCode, resp.Header, now)
}

var _ sinks.Sink = (*Sink)(nil)
