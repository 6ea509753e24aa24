package sinks

import "testing"

func TestCredentialName(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "Proxy-Authorization": true, "X-Api-Key": true, "api_key": true, "token": true,
		"X-Auth-Token": true, "Cookie": true, "client_secret": true, "password": true,
		"X-Team": false, "Webhook-Id": false, "Webhook-Signature": false, "Content-Type": false, "v": false, "ref": false,
	} {
		if got := CredentialName(name); got != want {
			t.Errorf("CredentialName(%q) = %v, want %v", name, got, want)
		}
	}
}
