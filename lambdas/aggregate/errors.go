package main

import "errors"

var errAggregate = errors.New("aggregate: GANNET_OUTPUT_STREAMS must name exactly one output stream")
