package detect

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/stream"
)

// Finding is one problem Lint found in a rule file.
type Finding struct {
	File string // the rule file (and #document for multi-document files)
	Rule string // the rule's id, or its title when it has none; empty when the file did not parse
	// Level is "error" (the rule cannot load or cannot work as written) or
	// "warning" (it works, but costs or risks something).
	Level  string
	Reason string
}

func (f Finding) String() string {
	r := f.Rule
	if r != "" {
		r = " [" + r + "]"
	}
	return fmt.Sprintf("%s%s: %s: %s", f.File, r, f.Level, f.Reason)
}

// knownModifiers are the Sigma modifiers detect/sigma understands.
var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "re": true, "cidr": true, "gt": true, "gte": true,
	"lt": true, "lte": true, "exists": true, "fieldref": true, "all": true, "cased": true, "windash": true,
	"wide": true, "utf16le": true, "utf16be": true, "utf16": true, "base64": true, "base64offset": true,
	"i": true, "ignorecase": true, "m": true, "multiline": true, "s": true, "dotall": true, "expand": true,
}

// cloudTrailTop are the top-level members of a CloudTrail record: a Sigma
// field of a CloudTrail rule must start with one of them (or be an ECS
// name, see FIELDS.md).
var cloudTrailTop = map[string]bool{
	"eventVersion": true, "userIdentity": true, "eventTime": true, "eventSource": true, "eventName": true,
	"awsRegion": true, "sourceIPAddress": true, "userAgent": true, "errorCode": true, "errorMessage": true,
	"requestParameters": true, "responseElements": true, "additionalEventData": true, "requestID": true,
	"eventID": true, "readOnly": true, "resources": true, "eventType": true, "apiVersion": true,
	"managementEvent": true, "recipientAccountId": true, "serviceEventDetails": true, "sharedEventID": true,
	"vpcEndpointId": true, "vpcEndpointAccountId": true, "eventCategory": true, "tlsDetails": true,
	"sessionCredentialFromConsole": true, "edgeDeviceDetails": true, "insightDetails": true, "addendum": true,
	"eventContext": true,
}

// cloudTrailTyped are the typed names that only CloudTrail events carry.
var cloudTrailTyped = map[string]bool{"eventSource": true, "eventName": true, "userAgent": true,
	"errorCode": true, "errorMessage": true, "awsRegion": true, "recipientAccountId": true}

var ecsNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range sigma.FieldNames() {
		if !cloudTrailTyped[n] {
			m[n] = true
		}
	}
	return m
}()

// fieldResolves reports whether Sigma field name can have a value in events
// of format f (detect/FIELDS.md): ECS names in every format; CloudTrail
// paths under a CloudTrail top-level member; any path in the other JSON
// formats; nothing else in the text formats (ALB, VPC flow, S3 access).
func fieldResolves(name string, f stream.Format) bool {
	if ecsNames[name] {
		return true
	}
	switch f {
	case stream.FormatCloudTrail:
		top, _, _ := strings.Cut(name, ".")
		return cloudTrailTop[top]
	case stream.FormatWAF, stream.FormatRoute53Resolver, stream.FormatGuardDuty, stream.FormatJSON:
		return true
	}
	return false
}

func anyResolves(name string, formats []stream.Format) bool {
	for _, f := range formats {
		if fieldResolves(name, f) {
			return true
		}
	}
	return false
}

// Lint checks the Sigma rules under dirs (recursively, *.yml and *.yaml,
// skipping tests/ directories) and returns one Finding per problem, sorted
// by file: files that do not parse; a missing id or level (a missing title
// does not parse); duplicate ids, across all dirs; unknown modifiers; fields
// no format of the rule's logsource can carry; a logsource that maps to no
// Gannet format; regular expressions Go cannot compile; any other reason the
// rule would not compile; correlations that refer to unknown rules or use a
// condition the inline windows cannot decide; and (warning) detection rules
// that are never indexed, i.e. are evaluated on every event of their formats.
// The error is for unreadable directories only.
func Lint(dirs ...string) ([]Finding, error) {
	var out []Finding
	type loaded struct {
		r    *sigma.Rule
		file string
	}
	var rules []loaded
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != dir && d.Name() == "tests" {
				return filepath.SkipDir
			}
			if d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rs, err := sigma.Parse(data, p)
			if err != nil {
				out = append(out, Finding{File: p, Level: "error", Reason: "does not parse: " + strings.TrimPrefix(err.Error(), p+": ")})
			}
			for _, r := range rs {
				rules = append(rules, loaded{r, r.Source})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("lint %s: %w", dir, err)
		}
	}
	add := func(l loaded, level, format string, args ...any) {
		out = append(out, Finding{File: l.file, Rule: ruleID(l.r), Level: level, Reason: fmt.Sprintf(format, args...)})
	}
	byID := map[string][]loaded{}
	byName := map[string]*sigma.Rule{}
	for _, l := range rules {
		if l.r.ID != "" {
			byID[l.r.ID] = append(byID[l.r.ID], l)
			byName[l.r.ID] = l.r
		}
		if l.r.Name != "" {
			byName[l.r.Name] = l.r
		}
	}
	for _, l := range rules {
		r := l.r
		if r.ID == "" {
			add(l, "error", "missing id")
		} else if others := byID[r.ID]; len(others) > 1 {
			var files []string
			for _, o := range others {
				if o.file != l.file {
					files = append(files, o.file)
				}
			}
			add(l, "error", "duplicate id %s (also in %s)", r.ID, strings.Join(files, ", "))
		}
		if r.Level == "" {
			add(l, "error", "missing level")
		}
		if r.Correlation != nil {
			lintCorrelation(l.r, byName, func(level, format string, args ...any) { add(l, level, format, args...) })
			continue
		}
		formats := sigma.LogsourceFormats(r.Logsource)
		if len(formats) == 0 {
			add(l, "error", "unknown logsource (category %q, product %q, service %q) maps to no Gannet format",
				r.Logsource.Category, r.Logsource.Product, r.Logsource.Service)
		}
		bad := false
		placeholders := map[string][]string{}
		for _, s := range r.Detection.Searches {
			for _, and := range s.Matchers {
				for _, fm := range and {
					if msg := lintField(fm, formats, placeholders); msg != "" {
						add(l, "error", "%s", msg)
						bad = true
					}
				}
			}
		}
		if bad || len(formats) == 0 {
			continue
		}
		set := sigma.NewSet()
		set.Placeholders = placeholders
		c, err := set.Add(r)
		if err != nil {
			add(l, "error", "does not compile: %v", err)
			continue
		}
		if c.IndexField == "" {
			names := make([]string, len(formats))
			for i, f := range formats {
				names[i] = f.String()
			}
			add(l, "warning", "never indexed: no selecting equality field, so it is evaluated on every %s event", strings.Join(names, "/"))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// lintField checks one field matcher; placeholders collects the %names%
// of expand values (filled with a dummy so the rule compiles).
func lintField(fm sigma.FieldMatcher, formats []stream.Format, placeholders map[string][]string) string {
	re, reFlags := false, ""
	for _, m := range fm.Modifiers {
		if !knownModifiers[m] {
			return fmt.Sprintf("field %s: unknown modifier %q", fm.Field, m)
		}
		switch m {
		case "re":
			re = true
		case "i", "ignorecase":
			reFlags += "i"
		case "m", "multiline":
			reFlags += "m"
		case "s", "dotall":
			reFlags += "s"
		case "expand":
			for _, v := range fm.Values {
				placeholders[strings.Trim(v.S, "%")] = []string{"placeholder"}
			}
		}
	}
	if len(formats) > 0 && !anyResolves(fm.Field, formats) {
		names := make([]string, len(formats))
		for i, f := range formats {
			names[i] = f.String()
		}
		return fmt.Sprintf("field %s is not mapped for %s events (see detect/FIELDS.md)", fm.Field, strings.Join(names, "/"))
	}
	for _, m := range fm.Modifiers {
		if m == "fieldref" {
			for _, v := range fm.Values {
				if !anyResolves(v.S, formats) {
					return fmt.Sprintf("field %s|fieldref: field %s is not mapped", fm.Field, v.S)
				}
			}
		}
	}
	if re {
		for _, v := range fm.Values {
			expr := v.S
			if reFlags != "" {
				expr = "(?" + reFlags + ")" + expr
			}
			if _, err := regexp.Compile(expr); err != nil {
				return fmt.Sprintf("field %s: regular expression %q does not compile in Go: %v", fm.Field, v.S, err)
			}
		}
	}
	return ""
}

func lintCorrelation(r *sigma.Rule, byName map[string]*sigma.Rule, add func(level, format string, args ...any)) {
	cr := r.Correlation
	var formats []stream.Format
	for _, name := range cr.Rules {
		ref, ok := byName[name]
		if !ok {
			add("error", "correlation refers to unknown rule %q", name)
			continue
		}
		if ref.Correlation != nil {
			add("error", "correlation refers to correlation %q (chaining is not supported)", name)
			continue
		}
		formats = append(formats, sigma.LogsourceFormats(ref.Logsource)...)
	}
	switch cr.Condition.Op {
	case "", "gt", "gte":
	default:
		add("warning", "condition %s cannot be decided inline or in tumbling windows (only by scheduled queries)", cr.Condition.Op)
	}
	if len(cr.Aliases) > 0 {
		add("error", "correlation aliases are not supported")
	}
	if len(formats) == 0 {
		return
	}
	fields := append([]string(nil), cr.GroupBy...)
	if cr.Condition.Field != "" {
		fields = append(fields, cr.Condition.Field)
	}
	for _, f := range fields {
		if !anyResolves(f, formats) {
			add("error", "field %s is not mapped for the referenced rules' events", f)
		}
	}
}
