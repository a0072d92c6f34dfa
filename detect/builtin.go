package detect

import "github.com/gannet-sec/gannet/detect/sigma"

// BuiltinRules parses the built-in rules (detect/rules/*.yml, embedded in
// the binary), in file order. Packages that evaluate rules outside an
// Engine (detect/window, detect/scheduled) start from them.
func BuiltinRules() ([]*sigma.Rule, error) { return loadFS(builtinFS, "rules") }
