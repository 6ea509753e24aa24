// Package email delivers messages by SMTP, as a plain-text mail with an HTML
// alternative. It connects with mandatory STARTTLS, implicit TLS or (for a
// local relay) in clear, authenticates when given credentials, and makes
// one attempt per Send: temporary (4xx) replies and connection failures are
// retryable, permanent (5xx) replies are not. The password never appears in
// its errors.
package email

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/wneessen/go-mail"

	"github.com/switchboard/switchboard/sinks"
)

// defaultTimeout bounds each SMTP command, a backstop for a caller's
// context without deadline. It is not derived from the context's deadline:
// the context closes the connection itself, so a deadline always surfaces
// as the context's error rather than racing an i/o timeout.
const defaultTimeout = time.Minute

// Sink mails messages to the configured recipients.
type Sink struct {
	name    string
	cfg     Config
	tls     *tls.Config
	domain  string // of the From address, for Message-IDs
	secrets *sinks.Secrets
	now     func() time.Time
}

// New returns the sink called name. cfg is validated (and defaulted) first.
func New(name string, cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("email: sink %s: %w", name, err)
	}
	tc, err := cfg.SMTP.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("email: sink %s: %w", name, err)
	}
	from, _ := netmail.ParseAddress(cfg.From) // checked by Validate
	domain := "switchboard.invalid"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	// go-mail does not put the password in errors; the sink keeps it out
	// should that ever change.
	secrets := sinks.NewSecrets(cfg.SMTP.Password.Value())
	return &Sink{name: name, cfg: cfg, tls: tc, domain: domain, secrets: secrets, now: time.Now}, nil
}

// Send mails m once.
func (s *Sink) Send(ctx context.Context, m *sinks.Message) error {
	msg, err := s.compose(m)
	if err != nil {
		return sinks.Permanent(fmt.Errorf("email: compose for %s: %w", s.name, err))
	}
	err = s.deliver(ctx, msg)
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	se := classify(err)
	se.Err = s.secrets.Redact(fmt.Errorf("email: send via %s: %w", s.name, se.Err))
	return se
}

// deliver opens one SMTP session, sends msg and quits. The context bounds
// the whole session: when it ends, the connection is closed under the
// client, whatever command it is waiting on.
func (s *Sink) deliver(ctx context.Context, msg *mail.Msg) (err error) {
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		stops = append(stops, context.AfterFunc(ctx, func() { _ = raw.Close() }))
		if s.cfg.SMTP.TLS != TLSImplicit {
			return raw, nil
		}
		// Implicit TLS is done here rather than with go-mail's WithSSL,
		// which only applies to its own dialer.
		conn := tls.Client(raw, s.tls)
		if err := conn.HandshakeContext(dctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return conn, nil
	}

	policy := mail.NoTLS // none, or implicit TLS done by dial
	if s.cfg.SMTP.TLS == TLSStartTLS {
		policy = mail.TLSMandatory
	}
	opts := []mail.Option{
		mail.WithPort(s.cfg.SMTP.Port),
		mail.WithTimeout(defaultTimeout),
		mail.WithDialContextFunc(dial),
		mail.WithTLSConfig(s.tls),
		mail.WithTLSPolicy(policy),
	}
	if s.cfg.SMTP.Username != "" {
		opts = append(opts, mail.WithSMTPAuthCustom(&autoAuth{
			user: s.cfg.SMTP.Username, pass: s.cfg.SMTP.Password.Value(), host: s.cfg.SMTP.Host,
		}))
	}
	c, err := mail.NewClient(s.cfg.SMTP.Host, opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// compose builds the mail for m. The Message-ID derives from the delivery
// id, so every attempt of one delivery carries the same id and a mail
// client or archive can recognise a retry as a duplicate.
func (s *Sink) compose(m *sinks.Message) (*mail.Msg, error) {
	b, err := render(m)
	if err != nil {
		return nil, err
	}
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, err
	}
	if err := msg.To(s.cfg.To...); err != nil {
		return nil, err
	}
	if len(s.cfg.CC) > 0 {
		if err := msg.Cc(s.cfg.CC...); err != nil {
			return nil, err
		}
	}
	msg.Subject(oneLine(m.Title))
	msg.SetDateWithValue(s.now())
	if m.DeliveryID != "" {
		msg.SetMessageIDWithValue(messageIDLocal(m.DeliveryID) + "@" + s.domain)
	} else {
		msg.SetMessageID()
	}
	msg.SetUserAgent("Switchboard")
	// RFC 3834: tells autoresponders (vacation replies) not to answer.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Switchboard-Rule", oneLine(m.Rule))
	if m.Event != nil {
		msg.SetGenHeader("X-Switchboard-Event", oneLine(m.Event.ID))
	}
	msg.SetBodyString(mail.TypeTextPlain, b.plain)
	msg.AddAlternativeString(mail.TypeTextHTML, b.html)
	return msg, nil
}

// messageIDLocal turns a delivery id into the local part of a Message-ID:
// kept as is when it is a dot-atom, hashed otherwise.
func messageIDLocal(id string) string {
	ok := id != "" && !strings.HasPrefix(id, ".") && !strings.HasSuffix(id, ".") && !strings.Contains(id, "..")
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.+=", r)) {
			ok = false
			break
		}
	}
	if ok {
		return "switchboard." + id
	}
	sum := sha256.Sum256([]byte(id))
	return "switchboard." + hex.EncodeToString(sum[:16])
}

// oneLine keeps a header value on one line: a newline in a rule title must
// not start a new header, and other control characters (NUL, ESC) that
// vendor text may carry are dropped.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

var _ sinks.Sink = (*Sink)(nil)
