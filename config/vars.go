package config

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Var is the value one template variable has in a repo expanded from a
// repo entry with vars.
type Var struct {
	Name  string
	Value string
}

// MaxExpansion bounds the repos one repo entry with vars expands to.
const MaxExpansion = 1000

// varNameRE and varRefRE are compiled when a repo entry has vars or a
// ${...}, not when the package loads (every command would pay for them).
var (
	varNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })
	varRefRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([^}]*)\}`) })
)

// templateVar is one variable of a repo entry and its values.
type templateVar struct {
	name   string
	values []string
}

// expand returns the repo entries n stands for: n itself when it has no
// vars key, otherwise one copy of n per combination of the variables'
// values (the first variable varying slowest), without vars and with every
// ${NAME} in its values replaced. A ${NAME} naming no variable is a
// problem, recorded once per entry; so are malformed vars. The copies keep
// the lines of the entry, so that problems in them point at the template.
func (d *decoder) expand(n *yaml.Node, where string) (nodes []*yaml.Node, vars [][]Var) {
	if n.Kind != yaml.MappingNode {
		return []*yaml.Node{n}, [][]Var{nil}
	}
	varsAt := -1
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "vars" {
			varsAt = i
			break
		}
	}
	if varsAt < 0 {
		if !d.checkRefs(n, where, nil) {
			return nil, nil
		}
		return []*yaml.Node{n}, [][]Var{nil}
	}
	tvs, ok := d.templateVars(n.Content[varsAt], n.Content[varsAt+1], where)
	// The entry without its vars, which is what every copy starts from.
	body := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Line: n.Line, Column: n.Column}
	body.Content = append(slices.Clone(n.Content[:varsAt]), n.Content[varsAt+2:]...)
	if !ok || !d.checkRefs(body, where, tvs) {
		return nil, nil
	}
	if !d.namesUseVars(body, n.Content[varsAt], where, tvs) {
		return nil, nil
	}
	total := 1
	for _, tv := range tvs {
		total *= len(tv.values)
		if total > MaxExpansion {
			d.errorf(n.Content[varsAt].Line, where, "vars: expand to more than %d repos", MaxExpansion)
			return nil, nil
		}
	}
	idx := make([]int, len(tvs))
	for range total {
		vs := make([]Var, len(tvs))
		values := make(map[string]string, len(tvs))
		for i, tv := range tvs {
			vs[i] = Var{Name: tv.name, Value: tv.values[idx[i]]}
			values[tv.name] = tv.values[idx[i]]
		}
		nodes = append(nodes, substitute(body, values))
		vars = append(vars, vs)
		// Next combination: the last variable varies fastest.
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(tvs[i].values) {
				break
			}
			idx[i] = 0
		}
	}
	return nodes, vars
}

// templateVars decodes the value of a vars key: a mapping of variable
// names to lists of values (or one value).
func (d *decoder) templateVars(key, val *yaml.Node, where string) ([]templateVar, bool) {
	if !d.isKind(val, yaml.MappingNode, where, "vars", "a mapping of variable names to lists of values, such as {releasever: [8, 9]}") {
		return nil, false
	}
	if len(val.Content) == 0 {
		d.errorf(key.Line, where, "vars is empty: remove it or give at least one variable")
		return nil, false
	}
	ok := true
	var tvs []templateVar
	seen := map[string]int{}
	for i := 0; i+1 < len(val.Content); i += 2 {
		k, v := val.Content[i], val.Content[i+1]
		if k.Kind != yaml.ScalarNode || !varNameRE().MatchString(k.Value) {
			d.errorf(k.Line, where, "vars: variable name %s: use letters, digits and _, not starting with a digit", describe(k))
			ok = false
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			d.errorf(k.Line, where, "vars: %s is given twice (first at line %d)", name, first)
			ok = false
			continue
		}
		seen[name] = k.Line
		items := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		}
		if len(items) == 0 {
			d.errorf(v.Line, where, "vars: %s has no values", name)
			ok = false
			continue
		}
		tv := templateVar{name: name}
		for _, it := range items {
			value, good := d.str(entry{name: "vars: " + name, key: k, val: it}, where)
			switch {
			case !good:
				ok = false
			case value == "" || strings.ContainsAny(value, "${}"):
				d.errorf(it.Line, where, "vars: %s: value %s: must not be empty or hold $, { or }", name, describe(it))
				ok = false
			case slices.Contains(tv.values, value):
				d.errorf(it.Line, where, "vars: %s: value %q is listed twice", name, value)
				ok = false
			default:
				tv.values = append(tv.values, value)
			}
		}
		tvs = append(tvs, tv)
	}
	return tvs, ok
}

// checkRefs records every ${NAME} in the values under n that names none
// of tvs, once per value, and reports whether there was none.
func (d *decoder) checkRefs(n *yaml.Node, where string, tvs []templateVar) bool {
	ok := true
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], n.Content[i].Value)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "${") {
				return
			}
			for _, m := range varRefRE().FindAllStringSubmatch(n.Value, -1) {
				if slices.ContainsFunc(tvs, func(tv templateVar) bool { return tv.name == m[1] }) {
					continue
				}
				ok = false
				if len(tvs) == 0 {
					d.errorf(n.Line, where, "%s: unknown variable ${%s}: this repo has no vars", key, m[1])
				} else {
					names := make([]string, len(tvs))
					for i, tv := range tvs {
						names[i] = tv.name
					}
					d.errorf(n.Line, where, "%s: unknown variable ${%s} (vars here: %s)", key, m[1], strings.Join(names, ", "))
				}
				return
			}
			if strings.Contains(varRefRE().ReplaceAllString(n.Value, ""), "${") {
				d.errorf(n.Line, where, "%s: ${ without a closing }", key)
				ok = false
			}
		}
	}
	walk(n, "")
	return ok
}

// namesUseVars checks that the repo's name uses every variable with more
// than one value: otherwise two of the repos expanded would share a name.
func (d *decoder) namesUseVars(body, varsKey *yaml.Node, where string, tvs []templateVar) bool {
	name, ok := peekName(body)
	if !ok {
		return true // the missing name is reported on decoding
	}
	good := true
	for _, tv := range tvs {
		if len(tv.values) > 1 && !strings.Contains(name, "${"+tv.name+"}") {
			d.errorf(varsKey.Line, where, "vars: %s has %d values but the name does not use ${%s}: each repo needs its own name", tv.name, len(tv.values), tv.name)
			good = false
		}
	}
	return good
}

// substitute returns a deep copy of n with ${NAME} replaced by values[NAME]
// in every scalar value (keys are left alone).
func substitute(n *yaml.Node, values map[string]string) *yaml.Node {
	c := *n
	c.Content = nil
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		c.Value = varRefRE().ReplaceAllStringFunc(n.Value, func(ref string) string {
			if v, ok := values[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
	}
	for i, child := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			k := *child
			c.Content = append(c.Content, &k)
			continue
		}
		c.Content = append(c.Content, substitute(child, values))
	}
	return &c
}
