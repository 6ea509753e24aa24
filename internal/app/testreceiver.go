//go:build switchboard_testreceiver

package app

import (
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/receivertest"
	"github.com/switchboard/switchboard/rules"
)

// Binaries built with -tags switchboard_testreceiver accept the receiver
// type "test" (process-level tests only).
func init() {
	testReceiver = func(c rules.Component) (receivers.Receiver, string, error) {
		var cfg receivertest.Config
		if err := decode(c, &cfg); err != nil {
			return nil, "", err
		}
		return receivertest.New(cfg), "", nil
	}
}
