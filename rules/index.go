package rules

import (
	"math/bits"
	"strconv"

	"github.com/switchboard/switchboard/internal/event"
)

// The router's index lets Route evaluate only the rules that can match an
// event: per indexed field, the rules each value leaves as candidates.
// constraints.go reads the conditions and says why skipping the other
// rules leaves every Result as it was.

// indexedFields are the event fields the index knows, by their expr names:
// the ones rules select on with few values each. A field is indexed only
// where some rule constrains it.
var indexedFields = [...]struct {
	name  string
	value func(*event.Event) string
}{
	{"source", func(e *event.Event) string { return e.Source }},
	{"type", func(e *event.Event) string { return e.Type }},
	{"receiver", func(e *event.Event) string { return e.Receiver }},
	{"status", func(e *event.Event) string { return e.Status }},
	{"final", func(e *event.Event) string { return strconv.FormatBool(e.Final) }},
	{"stale", func(e *event.Event) string { return strconv.FormatBool(e.Stale) }},
}

// bitset holds one bit per rule, by position.
type bitset []uint64

func newBitset(n int) bitset   { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)     { b[i/64] |= 1 << (i % 64) }
func (b bitset) clone() bitset { return append(bitset(nil), b...) }

// index maps each constrained field's value to the rules that can match an
// event with that value.
type index struct {
	fields []fieldIndex
}

type fieldIndex struct {
	value func(*event.Event) string
	// byValue holds, for each value some rule allows, the rules that allow
	// it together with the rules that do not constrain the field.
	byValue map[string]bitset
	// others are the rules that do not constrain the field: the candidates
	// for a value no rule names.
	others bitset
}

// newIndex reads the rules' conditions; it returns nil when no rule has a
// clause it can use, and Route then evaluates every rule.
func newIndex(rules []*Rule) *index {
	cons := make([]map[string]valueSet, len(rules))
	for i, rule := range rules {
		if rule.program != nil {
			cons[i] = constraints(rule.program.Node())
		}
	}
	x := &index{}
	for _, f := range indexedFields {
		fi := fieldIndex{value: f.value, byValue: map[string]bitset{}, others: newBitset(len(rules))}
		constrained := false
		for i, c := range cons {
			if _, ok := c[f.name]; ok {
				constrained = true
			} else {
				fi.others.set(i)
			}
		}
		if !constrained {
			continue
		}
		for i, c := range cons {
			for v := range c[f.name] {
				b, ok := fi.byValue[v]
				if !ok {
					b = fi.others.clone()
					fi.byValue[v] = b
				}
				b.set(i)
			}
		}
		x.fields = append(x.fields, fi)
	}
	if len(x.fields) == 0 {
		return nil
	}
	return x
}

// candidates returns a cursor over the rules that can match ev, in rule
// order. n is the number of rules.
func (x *index) candidates(ev *event.Event, n int) cursor {
	c := cursor{limit: n}
	if x == nil {
		return c
	}
	for _, f := range x.fields {
		b, ok := f.byValue[f.value(ev)]
		if !ok {
			b = f.others
		}
		c.sets[c.n] = b
		c.n++
	}
	return c
}

// cursor walks the intersection of its sets, a word at a time, without
// allocating; with no sets it walks every position below limit.
type cursor struct {
	sets  [len(indexedFields)]bitset
	n     int
	limit int
	pos   int    // the next word, or with no sets the next position
	word  uint64 // the bits of the current word not yet returned
	base  int    // the position of the current word's bit 0
}

func (c *cursor) next() (int, bool) {
	if c.n == 0 {
		if c.pos >= c.limit {
			return 0, false
		}
		c.pos++
		return c.pos - 1, true
	}
	for c.word == 0 {
		if c.pos == len(c.sets[0]) {
			return 0, false
		}
		w := c.sets[0][c.pos]
		for _, s := range c.sets[1:c.n] {
			w &= s[c.pos]
		}
		c.word, c.base = w, c.pos*64
		c.pos++
	}
	i := c.base + bits.TrailingZeros64(c.word)
	c.word &= c.word - 1
	return i, true
}
