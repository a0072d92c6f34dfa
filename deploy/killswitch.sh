#!/usr/bin/env bash
# Gannet kill switch: turn every event source mapping (and the delivery-retry pipe
# and the KCL consumer) off or on again by updating the stack's IngestEnabled
# parameter, keeping every other parameter and the template as deployed.
#   deploy/killswitch.sh off [STACK]     stop processing; records wait in the streams and queues
#   deploy/killswitch.sh on  [STACK]     resume from where each mapping stopped
# STACK defaults to gannet. Needs the AWS CLI and credentials allowed to update the stack.
set -euo pipefail
case "${1:-}" in
	off) value=false ;;
	on) value=true ;;
	*) echo "usage: $0 off|on [STACK]" >&2; exit 2 ;;
esac
stack=${2:-gannet}
args=()
for key in $(aws cloudformation describe-stacks --stack-name "$stack" \
	--query 'Stacks[0].Parameters[].ParameterKey' --output text); do
	if [ "$key" = IngestEnabled ]; then
		args+=("ParameterKey=IngestEnabled,ParameterValue=$value")
	else
		args+=("ParameterKey=$key,UsePreviousValue=true")
	fi
done
aws cloudformation update-stack --stack-name "$stack" --use-previous-template \
	--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --parameters "${args[@]}"
aws cloudformation wait stack-update-complete --stack-name "$stack"
aws lambda list-event-source-mappings --query \
	"EventSourceMappings[?contains(FunctionArn, '$stack')].[FunctionArn,EventSourceArn,State]" --output table
