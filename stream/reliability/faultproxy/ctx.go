package faultproxy

import "context"

func contextWithRule(ctx context.Context, r *rule) context.Context {
	return context.WithValue(ctx, ruleKey{}, r)
}

func ruleFrom(ctx context.Context) *rule {
	r, _ := ctx.Value(ruleKey{}).(*rule)
	return r
}
