package geoip

import (
	"github.com/gannet-sec/gannet/stream"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// Record is what the databases say about one address: the ECS *.geo and
// *.as fields. Its strings are shared between every cached address that
// resolves to the same database record.
type Record struct {
	Geo stream.Geo
	AS  stream.AS
}

// HasGeo reports whether the record carries any geo field.
func (r *Record) HasGeo() bool {
	g := &r.Geo
	return g.CountryISOCode != "" || g.CountryName != "" || g.RegionName != "" || g.CityName != "" || g.Location.Valid
}

// HasAS reports whether the record carries an AS number or organization.
func (r *Record) HasAS() bool { return r.AS.Number != 0 || r.AS.OrganizationName != "" }

// mmdbRecord decodes a data record of either supported layout:
//
//   - GeoIP2/GeoLite2 City and Country (also DB-IP Lite as published by
//     DB-IP): nested "country", "city", "subdivisions", "location" maps with
//     English names under "names"/"en";
//   - the flat layout of ip-location-db's DB-IP Lite and GeoLite2 builds:
//     "country_code", "state1", "city", "latitude", "longitude";
//   - GeoLite2-ASN / DB-IP ASN: "autonomous_system_number",
//     "autonomous_system_organization".
//
// Fields of an unexpected kind are skipped, not treated as errors; malformed
// data is an error.
type mmdbRecord struct {
	Record
	known bool // at least one field of a supported layout was present
	lat   float64
	lon   float64
	nLat  bool
	nLon  bool
}

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *mmdbRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(key) {
		case "country":
			next, err = r.country(val)
		case "city":
			if k, _ := val.Kind(); k == mmdbdata.KindString {
				next, err = readString(val, &r.Geo.CityName)
			} else {
				next, err = names(val, &r.Geo.CityName, nil)
			}
			r.known = true
		case "subdivisions":
			next, err = r.subdivisions(val)
		case "location":
			next, err = r.location(val)
		case "country_code":
			next, err = readString(val, &r.Geo.CountryISOCode)
			r.known = true
		case "state1":
			next, err = readString(val, &r.Geo.RegionName)
		case "latitude":
			next, err = readFloat(val, &r.lat, &r.nLat)
		case "longitude":
			next, err = readFloat(val, &r.lon, &r.nLon)
		case "autonomous_system_number":
			var n uint64
			next, err = readUint(val, &n)
			r.AS.Number = int64(n)
			r.known = true
		case "autonomous_system_organization":
			next, err = readString(val, &r.AS.OrganizationName)
			r.known = true
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	end, err := m.End()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	if r.nLat && r.nLon {
		r.Geo.Location = stream.GeoPoint{Lat: r.lat, Lon: r.lon, Valid: true}
	}
	if r.Geo.CountryName == "" && r.Geo.CountryISOCode != "" {
		r.Geo.CountryName = countryNames[r.Geo.CountryISOCode]
	}
	return end, nil
}

// country reads {"iso_code": …, "names": {"en": …}}.
func (r *mmdbRecord) country(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	r.known = true
	return names(c, &r.Geo.CountryName, &r.Geo.CountryISOCode)
}

// subdivisions reads the English name of the first (largest) subdivision.
func (r *mmdbRecord) subdivisions(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	if k, err := c.Kind(); err != nil || k != mmdbdata.KindSlice {
		return c.Skip()
	}
	s, err := c.Slice()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	var next mmdbdata.Cursor
	for {
		i, val, ok := s.Next(next)
		if !ok {
			break
		}
		if i == 0 {
			next, err = names(val, &r.Geo.RegionName, nil)
		} else {
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return s.End()
}

// location reads {"latitude": …, "longitude": …}.
func (r *mmdbRecord) location(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	if k, err := c.Kind(); err != nil || k != mmdbdata.KindMap {
		return c.Skip()
	}
	r.known = true
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(key) {
		case "latitude":
			next, err = readFloat(val, &r.lat, &r.nLat)
		case "longitude":
			next, err = readFloat(val, &r.lon, &r.nLon)
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

// names reads a map with an optional "iso_code" and "names": {"en": …}.
func names(c mmdbdata.Cursor, name, iso *string) (mmdbdata.Cursor, error) {
	if k, err := c.Kind(); err != nil || k != mmdbdata.KindMap {
		return c.Skip()
	}
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		switch {
		case string(key) == "iso_code" && iso != nil:
			next, err = readString(val, iso)
		case string(key) == "names":
			next, err = english(val, name)
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

// english reads the "en" entry of a names map.
func english(c mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	if k, err := c.Kind(); err != nil || k != mmdbdata.KindMap {
		return c.Skip()
	}
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		if string(key) == "en" {
			next, err = readString(val, dst)
		} else {
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

func readString(c mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	if k, err := c.Kind(); err != nil || k != mmdbdata.KindString {
		return c.Skip()
	}
	s, next, err := c.ReadString()
	if err == nil {
		*dst = s
	}
	return next, err
}

func readFloat(c mmdbdata.Cursor, dst *float64, set *bool) (mmdbdata.Cursor, error) {
	if k, err := c.Kind(); err != nil || (k != mmdbdata.KindFloat64 && k != mmdbdata.KindFloat32) {
		return c.Skip()
	}
	f, next, err := c.ReadFloat()
	if err == nil {
		*dst, *set = f, true
	}
	return next, err
}

func readUint(c mmdbdata.Cursor, dst *uint64) (mmdbdata.Cursor, error) {
	v, signed, next, err := c.ReadInteger()
	if err != nil {
		// Not an integer kind: skip the value rather than fail the record.
		if k, kerr := c.Kind(); kerr == nil && k != mmdbdata.KindUint16 && k != mmdbdata.KindUint32 && k != mmdbdata.KindUint64 && k != mmdbdata.KindInt32 {
			return c.Skip()
		}
		return next, err
	}
	if signed && int64(v) < 0 {
		v = 0
	}
	*dst = v
	return next, nil
}
