// Package templatetest checks Gannet's SAM template (deploy/template.yaml)
// against the code it deploys: event source mappings that cannot lose or
// endlessly retry records, a handler in lambdas/ for every function, the
// GANNET_* environment contract, the state machine definitions, and Glue
// tables generated from the lake's schema.
//
// It reads the template with gopkg.in/yaml.v3 and walks the nodes itself, so
// CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, !If …) are kept as
// node tags instead of failing the decode.
package templatetest

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed CloudFormation/SAM template.
type Template struct {
	Root       *yaml.Node // the document's top-level mapping
	Parameters map[string]*yaml.Node
	Conditions map[string]*yaml.Node
	Resources  map[string]Resource
	Globals    *yaml.Node // Globals.Function, or nil
}

// Resource is one entry of Resources.
type Resource struct {
	Name       string
	Type       string
	Condition  string
	Properties *yaml.Node // nil when absent
	Metadata   *yaml.Node
	Node       *yaml.Node
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse parses template text.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("template: top level is not a mapping")
	}
	root := doc.Content[0]
	t := &Template{
		Root:       root,
		Parameters: mapOf(Get(root, "Parameters")),
		Conditions: mapOf(Get(root, "Conditions")),
		Resources:  map[string]Resource{},
		Globals:    Get(root, "Globals", "Function"),
	}
	for name, n := range mapOf(Get(root, "Resources")) {
		r := Resource{Name: name, Node: n, Properties: Get(n, "Properties"), Metadata: Get(n, "Metadata")}
		if v := Get(n, "Type"); v != nil {
			r.Type = v.Value
		}
		if v := Get(n, "Condition"); v != nil {
			r.Condition = v.Value
		}
		t.Resources[name] = r
	}
	return t, nil
}

// OfType returns the resources of the given types, sorted by name.
func (t *Template) OfType(types ...string) []Resource {
	var out []Resource
	for _, r := range t.Resources {
		for _, ty := range types {
			if r.Type == ty {
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get follows mapping keys from n; nil if any is missing. Aliases are followed.
func Get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return resolve(n)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapOf returns the entries of a mapping node (empty for nil).
func mapOf(n *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = resolve(n.Content[i+1])
	}
	return out
}

// Keys returns the keys of a mapping node in order.
func Keys(n *yaml.Node) []string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

// Items returns the elements of a sequence node (nil otherwise).
func Items(n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

// Intrinsic reports the function of a short-form tagged node ("Ref", "If",
// "GetAtt" …) or of a long-form single-key mapping ({"Fn::If": …}), and its
// argument node.
func Intrinsic(n *yaml.Node) (fn string, arg *yaml.Node) {
	n = resolve(n)
	if n == nil {
		return "", nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return strings.TrimPrefix(n.Tag, "!"), n
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		switch {
		case k == "Ref":
			return "Ref", n.Content[1]
		case strings.HasPrefix(k, "Fn::"):
			return strings.TrimPrefix(k, "Fn::"), n.Content[1]
		}
	}
	return "", nil
}

// References returns the logical names (resources or parameters) that n
// refers to through Ref, GetAtt, Sub and Condition-free walks of nested
// intrinsics.
func References(n *yaml.Node) []string {
	seen := map[string]bool{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		n = resolve(n)
		if n == nil {
			return
		}
		fn, arg := Intrinsic(n)
		switch fn {
		case "Ref":
			if arg.Kind == yaml.ScalarNode {
				seen[arg.Value] = true
				return
			}
		case "GetAtt":
			if arg.Kind == yaml.ScalarNode {
				seen[strings.SplitN(arg.Value, ".", 2)[0]] = true
				return
			}
			if items := Items(arg); len(items) > 0 {
				seen[items[0].Value] = true
				return
			}
		case "Sub":
			s := arg
			if items := Items(arg); len(items) > 0 {
				s = items[0]
				for _, v := range items[1:] {
					walk(v)
				}
			}
			if s.Kind == yaml.ScalarNode {
				for _, name := range subVars(s.Value) {
					seen[strings.SplitN(name, ".", 2)[0]] = true
				}
				return
			}
		}
		if n.Kind == yaml.ScalarNode && fn == "" {
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// subVars returns the ${Name} variables of a Fn::Sub string, skipping ${!Literal}.
func subVars(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		v := s[i+2 : i+j]
		if !strings.HasPrefix(v, "!") {
			out = append(out, v)
		}
		s = s[i+j+1:]
	}
}

// EnvNames returns the environment variable names the template sets for
// functions (Globals and per function) and containers, each with where it is set.
func (t *Template) EnvNames() map[string][]string {
	out := map[string][]string{}
	add := func(vars *yaml.Node, where string) {
		for _, k := range Keys(vars) {
			out[k] = append(out[k], where)
		}
	}
	add(Get(t.Globals, "Environment", "Variables"), "Globals")
	for _, r := range t.OfType("AWS::Serverless::Function", "AWS::Lambda::Function") {
		add(Get(r.Properties, "Environment", "Variables"), r.Name)
	}
	for _, r := range t.OfType("AWS::ECS::TaskDefinition") {
		for _, c := range Items(Get(r.Properties, "ContainerDefinitions")) {
			for _, item := range Items(Get(c, "Environment")) {
				for _, e := range Branches(item) {
					if n := Get(e, "Name"); n != nil {
						out[n.Value] = append(out[n.Value], r.Name)
					}
				}
			}
		}
	}
	return out
}

// Branches returns the values n can take: n itself, or for !If the branches
// of the If (recursively), leaving out !Ref AWS::NoValue.
func Branches(n *yaml.Node) []*yaml.Node {
	fn, arg := Intrinsic(n)
	switch fn {
	case "If":
		items := Items(arg)
		if len(items) != 3 {
			return nil
		}
		return append(Branches(items[1]), Branches(items[2])...)
	case "Ref":
		if arg.Value == "AWS::NoValue" {
			return nil
		}
	}
	return []*yaml.Node{resolve(n)}
}
