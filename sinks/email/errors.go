package email

import (
	"errors"
	"net/textproto"

	"github.com/wneessen/go-mail"

	"github.com/switchboard/switchboard/sinks"
)

// classify turns a failed SMTP session into a sinks.Error whose Status is
// the server's reply code: 5xx replies are permanent; 4xx replies,
// connection and TLS failures, and timeouts are retryable.
func classify(err error) *sinks.Error {
	var se *sinks.Error
	if errors.As(err, &se) {
		return se
	}
	code := replyCode(err)
	return &sinks.Error{Err: err, Status: code, Permanent: code >= 500 && code < 600}
}

// replyCode finds the SMTP reply code in err: go-mail reports failures of
// MAIL, RCPT and DATA as a *mail.SendError, and failures while greeting,
// starting TLS or authenticating as the *textproto.Error itself.
func replyCode(err error) int {
	var send *mail.SendError
	if errors.As(err, &send) {
		if c := send.ErrorCode(); c != 0 {
			return c
		}
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}
