package email

import (
	"errors"
	"slices"

	"github.com/wneessen/go-mail/smtp"
)

// autoAuth picks the SMTP AUTH mechanism the server offers: PLAIN, else
// LOGIN, else CRAM-MD5. go-mail can discover mechanisms itself, but only
// counts a connection as encrypted when it dialled the TLS itself, so it
// would refuse PLAIN over our implicit-TLS connection. PLAIN and LOGIN
// still refuse to send the password over a connection without TLS.
type autoAuth struct {
	user, pass, host string
	inner            smtp.Auth
}

func (a *autoAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.inner = smtp.PlainAuth("", a.user, a.pass, a.host, false)
	case slices.Contains(server.Auth, "LOGIN"):
		a.inner = smtp.LoginAuth(a.user, a.pass, a.host, false)
	case slices.Contains(server.Auth, "CRAM-MD5"):
		a.inner = smtp.CRAMMD5Auth(a.user, a.pass)
	case len(server.Auth) == 0:
		return "", nil, errors.New("server does not offer SMTP AUTH")
	default:
		return "", nil, errors.New("server offers no supported SMTP AUTH mechanism (PLAIN, LOGIN, CRAM-MD5)")
	}
	return a.inner.Start(server)
}

func (a *autoAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.inner.Next(fromServer, more)
}
