package vpcflow

import "testing"

// FuzzFastPath checks that whatever the one-pass default-format parser
// accepts, the field-by-field parser accepts with the same record.
func FuzzFastPath(f *testing.F) {
	for _, s := range []string{
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 unknown eni-1 2001:db8::1 10.0.0.1 0 65535 255 0 0 0 1099511627776 REJECT NODATA",
		"2 1 e 1.2.3.4 1.2.3.5 1 2 3 4 5 6 7 X Y ",
		"256 1 e 1.2.3.4 1.2.3.5 1 2 3 4 5 6 7 X Y",
		"2 1 e 1.2.3.4 1.2.3.5 1 2 3 4 5 6 7 X -",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var fast, slow Record
		if !parseV2Fast(s, &fast) {
			return
		}
		if err := parseV2(s, &slow); err != nil || fast != slow {
			t.Fatalf("%q: fast %+v; field by field %+v, %v", s, fast, slow, err)
		}
	})
}
