package telesign

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/config"
)

func TestConfigValidate(t *testing.T) {
	const badKey = "not base64 at all!!"
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"key and customer", Config{CustomerID: ts6Customer, APIKey: ts6Key}, nil},
		{"key only", Config{APIKey: ts6Key}, nil},
		{"key with dashes", Config{APIKey: "EXAMPLE----TE8sTgg45yusumoN6BYsBVkh+yRJ5czgsnCehZaOYldPJdmFh6NeX8kunZ2zU1YWaUw/0wV6xfw=="}, nil},
		{"key with newline", Config{APIKey: ts6Key + "\n"}, nil},
		{"key without padding", Config{APIKey: "c2VjcmV0X2FwaV9rZXk"}, nil},
		{"unauthenticated", Config{Unauthenticated: true}, nil},
		{"no key", Config{CustomerID: ts6Customer}, errNoKey},
		{"bad key", Config{APIKey: badKey}, errBadKey},
		{"impossible length", Config{APIKey: "abcde"}, errBadKey},
		{"only dashes", Config{APIKey: "----"}, errBadKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			_, nerr := New("ts", tc.cfg)
			if !errors.Is(nerr, tc.want) {
				t.Fatalf("New = %v, want %v", nerr, tc.want)
			}
			if nerr != nil && (strings.Contains(nerr.Error(), badKey) || strings.Contains(nerr.Error(), "abcde")) {
				t.Errorf("error %q reveals the key", nerr)
			}
		})
	}
}

func TestConfigHidesKey(t *testing.T) {
	cfg := Config{CustomerID: ts6Customer, APIKey: config.Secret(ts6Key)}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, ts6Key) {
			t.Errorf("printed config %q contains the key", s)
		}
	}
}
