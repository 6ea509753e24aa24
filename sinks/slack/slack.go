// Package slack delivers messages to Slack, through an incoming webhook or
// a bot token (chat.postMessage), as Block Kit blocks with a plain-text
// fallback. It makes one attempt per Send and classifies failures for the
// delivery workers: rate limits carry Slack's Retry-After, configuration
// errors (bad token, unknown channel) are permanent, server and network
// errors are retryable. The webhook URL and the token never appear in its
// errors.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/switchboard/switchboard/sinks"
)

// Sink posts messages to one Slack channel.
type Sink struct {
	name    string
	cfg     Config
	http    *http.Client
	api     *slack.Client // token path; nil for a webhook
	redact  *sinks.Secrets
	now     func() time.Time
	options []slack.MsgOption
	threads Threads // thread anchors; nil: no threads
}

// New returns the sink called name. cfg is validated (and defaulted) first.
func New(name string, cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("slack: sink %s: %w", name, err)
	}
	s := &Sink{
		name:   name,
		cfg:    cfg,
		http:   newHTTPClient(),
		redact: sinks.NewSecrets(cfg.Token.Value()),
		now:    time.Now,
	}
	// net/http and slack-go put the request URL into their errors, and for
	// an incoming webhook the URL is the credential.
	s.redact.AddURL(cfg.WebhookURL.Value())
	if cfg.Token != "" {
		s.api = slack.New(cfg.Token.Value(), slack.OptionHTTPClient(s.http), slack.OptionAPIURL(cfg.APIURL))
		if cfg.Username != "" {
			s.options = append(s.options, slack.MsgOptionUsername(cfg.Username))
		}
		if cfg.IconEmoji != "" {
			s.options = append(s.options, slack.MsgOptionIconEmoji(cfg.IconEmoji))
		}
	}
	return s, nil
}

// newHTTPClient returns the client of one sink: its own transport, and
// redirects are not followed (a redirect would resend the message, and for
// a webhook hand the secret URL's payload to another host). The send
// timeout comes from the caller's context.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Rate returns the most messages per second this sink should send; the
// delivery worker spaces sends by it. With update_parent a message costs
// up to two API calls (chat.update and chat.postMessage), so half as many.
func (s *Sink) Rate() float64 {
	if s.Threaded() && s.cfg.UpdateParent {
		return s.cfg.RateLimit / 2
	}
	return s.cfg.RateLimit
}

// Send posts m once. Failures are *sinks.Error values: permanent for
// configuration errors, with RetryAfter for rate limits.
func (s *Sink) Send(ctx context.Context, m *sinks.Message) error {
	p := render(m)
	var err error
	switch {
	case s.api == nil:
		err = s.postWebhook(ctx, p)
	case m.Thread != "" && s.threads != nil && s.Threaded():
		err = s.sendThreaded(ctx, m, p)
	default:
		_, _, err = s.post(ctx, s.cfg.Channel, p, "", false)
	}
	if err == nil {
		return nil
	}
	// Redaction keeps the error types classify looks for unless their text
	// holds a secret (which only URL-bearing network errors do).
	se := classify(s.redact.Redact(err))
	se.Err = fmt.Errorf("slack: post to %s: %w", s.name, se.Err)
	return se
}

// postWebhook posts to the incoming webhook. It builds the request itself
// rather than using slack.PostWebhookCustomHTTPContext because that
// discards the response body, and the body is where Slack says why a
// webhook failed ("invalid_token", "channel_is_archived").
func (s *Sink) postWebhook(ctx context.Context, p payload) error {
	msg := &slack.WebhookMessage{
		Text:      p.text,
		Blocks:    &slack.Blocks{BlockSet: p.blocks},
		Channel:   s.cfg.Channel,
		Username:  s.cfg.Username,
		IconEmoji: s.cfg.IconEmoji,
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return sinks.Permanent(fmt.Errorf("encode message: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL.Value(), bytes.NewReader(body))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	we := &webhookError{status: resp.StatusCode, code: errorCode(b)}
	he := sinks.HTTPError(we, resp.StatusCode, resp.Header, s.now()).(*sinks.Error)
	if permanentAPIErrors[we.code] {
		he.Permanent = true
	}
	return he
}

// errorCode extracts Slack's error code from a webhook answer body: a bare
// word like "invalid_token". Anything else (an HTML error page) is dropped
// rather than copied into the delivery log.
func errorCode(b []byte) string {
	c := strings.TrimSpace(string(b))
	if c == "" || len(c) > 64 {
		return ""
	}
	for _, r := range c {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return ""
		}
	}
	return c
}

var _ sinks.Sink = (*Sink)(nil)
