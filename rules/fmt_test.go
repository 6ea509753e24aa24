package rules

import (
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// fmtAll prints v every way a secret could leak.
func fmtAll(v any) string {
	j, _ := json.Marshal(v)
	y, _ := yaml.Marshal(v)
	return fmt.Sprintf("%v %+v %#v %s %q %x", v, v, v, v, v, v) + string(j) + string(y)
}
