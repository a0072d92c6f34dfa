package vpcflow

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Field names one VPC Flow Logs field (versions 2 to 8).
type Field uint8

// The fields, in the order of the AWS "Available fields" table.
const (
	FieldVersion Field = iota
	FieldAccountID
	FieldInterfaceID
	FieldSrcAddr
	FieldDstAddr
	FieldSrcPort
	FieldDstPort
	FieldProtocol
	FieldPackets
	FieldBytes
	FieldStart
	FieldEnd
	FieldAction
	FieldLogStatus
	// version 3
	FieldVPCID
	FieldSubnetID
	FieldInstanceID
	FieldTCPFlags
	FieldType
	FieldPktSrcAddr
	FieldPktDstAddr
	// version 4
	FieldRegion
	FieldAZID
	FieldSublocationType
	FieldSublocationID
	// version 5
	FieldPktSrcAWSService
	FieldPktDstAWSService
	FieldFlowDirection
	FieldTrafficPath
	// version 7
	FieldECSClusterARN
	FieldECSClusterName
	FieldECSContainerInstanceARN
	FieldECSContainerInstanceID
	FieldECSContainerID
	FieldECSSecondContainerID
	FieldECSServiceName
	FieldECSTaskDefinitionARN
	FieldECSTaskARN
	FieldECSTaskID
	// version 8
	FieldRejectReason
	numFields
)

var fieldNames = [numFields]string{
	"version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
	"protocol", "packets", "bytes", "start", "end", "action", "log-status",
	"vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr",
	"region", "az-id", "sublocation-type", "sublocation-id",
	"pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path",
	"ecs-cluster-arn", "ecs-cluster-name", "ecs-container-instance-arn", "ecs-container-instance-id",
	"ecs-container-id", "ecs-second-container-id", "ecs-service-name", "ecs-task-definition-arn",
	"ecs-task-arn", "ecs-task-id",
	"reject-reason",
}

// fieldVersions is the flow log version that introduced each field.
var fieldVersions = [numFields]uint8{
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	3, 3, 3, 3, 3, 3, 3,
	4, 4, 4, 4,
	5, 5, 5, 5,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	8,
}

// String returns the AWS field name ("srcaddr", "log-status", …).
func (f Field) String() string {
	if f < numFields {
		return fieldNames[f]
	}
	return fmt.Sprintf("field(%d)", uint8(f))
}

// Version returns the flow log version that introduced the field.
func (f Field) Version() int {
	if f < numFields {
		return int(fieldVersions[f])
	}
	return 0
}

// AllFields returns every known field, in AWS table order.
func AllFields() []Field {
	out := make([]Field, numFields)
	for i := range out {
		out[i] = Field(i)
	}
	return out
}

// DefaultFields returns the fields of the default (version 2) format.
func DefaultFields() []Field {
	return AllFields()[:FieldLogStatus+1]
}

// Fields is a set of fields.
type Fields uint64

// Has reports whether f is in the set.
func (s Fields) Has(f Field) bool { return s&(1<<f) != 0 }

func (s *Fields) add(f Field) { *s |= 1 << f }

// ParseField maps an AWS field name to a Field. It also accepts the
// "${name}" form of a flow log format string.
func ParseField(name string) (Field, bool) {
	if strings.HasPrefix(name, "${") && strings.HasSuffix(name, "}") {
		name = name[2 : len(name)-1]
	}
	f, ok := fieldByName[name]
	return f, ok
}

var fieldByName = func() map[string]Field {
	m := make(map[string]Field, numFields)
	for i, n := range fieldNames {
		m[n] = Field(i)
	}
	return m
}()

// ParseFields maps field names (a header line split on spaces, or the
// LogFormat of a flow log: "${version} ${srcaddr} …") to fields. The error
// names the first unknown or repeated field.
func ParseFields(names []string) ([]Field, error) {
	out := make([]Field, 0, len(names))
	var seen Fields
	for _, n := range names {
		for _, part := range strings.Fields(n) {
			f, ok := ParseField(part)
			if !ok {
				return nil, fmt.Errorf("unknown VPC flow log field %q", part)
			}
			if seen.Has(f) {
				return nil, fmt.Errorf("VPC flow log field %q listed twice", part)
			}
			seen.add(f)
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no VPC flow log fields")
	}
	return out, nil
}

// Names returns the names of the fields in the set, in AWS table order.
func (s Fields) Names() []string {
	var out []string
	for f := Field(0); f < numFields; f++ {
		if s.Has(f) {
			out = append(out, fieldNames[f])
		}
	}
	return out
}

// MarshalJSON renders the set as a list of field names.
func (s Fields) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.Names())
}
