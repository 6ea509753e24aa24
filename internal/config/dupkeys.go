package config

import "gopkg.in/yaml.v3"

// DuplicateKeys reports every key that appears twice in one mapping, at
// the line of the repeat with the line of the first, and removes the
// repeats from the tree so the decoders that follow see each key once and
// do not report it again.
//
// yaml.v3 checks for duplicate keys only when it decodes a mapping into a
// map or struct, not into a yaml.Node; the receivers, sinks and rules
// sections are yaml.Nodes, so without this a second `telesign:` receiver
// would silently replace the first.
func DuplicateKeys(n *yaml.Node) Errors {
	var errs Errors
	dupKeys(n, &errs)
	return errs
}

func dupKeys(n *yaml.Node, errs *Errors) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			dupKeys(c, errs)
		}
	case yaml.MappingNode:
		first := map[string]int{} // scalar key → line of its first use
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode {
				if line, dup := first[k.Value]; dup {
					*errs = append(*errs, Errorf(k.Line, "", "duplicate key %q (first at line %d)", k.Value, line))
					continue
				}
				first[k.Value] = k.Line
			}
			kept = append(kept, k, v)
			dupKeys(v, errs)
		}
		n.Content = kept
	}
}
