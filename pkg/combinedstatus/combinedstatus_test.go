package combinedstatus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/combinedstatus"
)

func agg(name string, t edgev2alpha1.AggregatorType, subject string) edgev2alpha1.NamedAggregator {
	return edgev2alpha1.NamedAggregator{Name: name, Type: t, Subject: subject}
}

func sel(name, def string) edgev2alpha1.NamedExpression {
	return edgev2alpha1.NamedExpression{Name: name, Def: def}
}

func mustCompile(t *testing.T, spec edgev2alpha1.StatusCollectorSpec) *combinedstatus.Collector {
	t.Helper()
	c, errs := combinedstatus.Compile(&spec)
	require.Empty(t, errs)
	require.NotNil(t, c)
	return c
}

var obj = map[string]any{
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": map[string]any{"name": "web", "namespace": "shop"},
	"spec":     map[string]any{"replicas": int64(3)},
}

func reports() []combinedstatus.Report {
	return []combinedstatus.Report{
		{Destination: combinedstatus.Destination{Name: "east", Space: "root:imw1", Location: "east"},
			Status: map[string]any{"availableReplicas": int64(3), "conditions": []any{
				map[string]any{"type": "Available", "status": "True"}}}},
		{Destination: combinedstatus.Destination{Name: "west", Space: "root:imw1"},
			Status: map[string]any{"availableReplicas": int64(2), "conditions": []any{
				map[string]any{"type": "Available", "status": "False"}}}},
		// Nothing reported yet.
		{Destination: combinedstatus.Destination{Name: "north", Space: "root:imw2"}},
	}
}

func TestAggregations(t *testing.T) {
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
		agg("count", edgev2alpha1.AggregatorCount, ""),
		agg("sum", edgev2alpha1.AggregatorSum, "returned.status.availableReplicas"),
		agg("avg", edgev2alpha1.AggregatorAvg, "returned.status.availableReplicas"),
		agg("min", edgev2alpha1.AggregatorMin, "returned.status.availableReplicas"),
		agg("max", edgev2alpha1.AggregatorMax, "returned.status.availableReplicas"),
		agg("wanted", edgev2alpha1.AggregatorSum, "obj.spec.replicas"),
		agg("half", edgev2alpha1.AggregatorSum, "double(obj.spec.replicas) / 2.0"),
		agg("reported", edgev2alpha1.AggregatorCount, "returned.status.availableReplicas"),
	}})
	res := c.Evaluate(context.Background(), obj, reports())
	assert.Equal(t, []string{"count", "sum", "avg", "min", "max", "wanted", "half", "reported"}, res.ColumnNames)
	assert.Empty(t, res.Errors)
	assert.Equal(t, 3, res.Counted)
	// A destination that has not reported is counted, but has no value to add.
	assert.Equal(t, [][]any{{int64(3), int64(5), 2.5, int64(2), int64(3), int64(9), 4.5, int64(2)}}, res.Rows)
}

func TestAggregationsOverNothing(t *testing.T) {
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
		agg("count", edgev2alpha1.AggregatorCount, ""),
		agg("sum", edgev2alpha1.AggregatorSum, "returned.status.availableReplicas"),
		agg("avg", edgev2alpha1.AggregatorAvg, "returned.status.availableReplicas"),
		agg("max", edgev2alpha1.AggregatorMax, "returned.status.availableReplicas"),
	}})
	res := c.Evaluate(context.Background(), obj, nil)
	assert.Empty(t, res.Errors)
	assert.Equal(t, [][]any{{int64(0), int64(0), nil, nil}}, res.Rows)
	// A destination that has not reported yet counts, with no values.
	res = c.Evaluate(context.Background(), obj, reports()[2:])
	assert.Empty(t, res.Errors)
	rows, err := combinedstatus.JSONRows(res.Rows)
	require.NoError(t, err)
	assert.Equal(t, `1 0 null null`, joinRaw(rows[0]))
}

func TestFilterAndSelect(t *testing.T) {
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{
		Filter: `returned.status.conditions.exists(c, c.type == "Available" && c.status == "True")`,
		Select: []edgev2alpha1.NamedExpression{
			sel("wec", "destination.name"), sel("space", "destination.space"), sel("location", "destination.location"),
			sel("available", "returned.status.availableReplicas"), sel("name", "obj.metadata.name"),
			sel("missing", "returned.status.nothing"), sel("conds", "returned.status.conditions"),
		},
	})
	res := c.Evaluate(context.Background(), obj, reports())
	assert.Empty(t, res.Errors)
	assert.Equal(t, 1, res.Counted)
	require.Len(t, res.Rows, 1)
	rows, err := combinedstatus.JSONRows(res.Rows)
	require.NoError(t, err)
	assert.Equal(t, `"east" "root:imw1" "east" 3 "web" null [{"status":"True","type":"Available"}]`, joinRaw(rows[0]))
}

func TestLimit(t *testing.T) {
	var many []combinedstatus.Report
	for range 30 {
		many = append(many, reports()[0])
	}
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{sel("wec", "destination.name")}})
	res := c.Evaluate(context.Background(), obj, many)
	assert.Len(t, res.Rows, edgev2alpha1.DefaultStatusCollectorLimit, "the default limit")
	assert.Equal(t, 30, res.Counted, "rows past the limit still count")
	c = mustCompile(t, edgev2alpha1.StatusCollectorSpec{Limit: 2, Select: []edgev2alpha1.NamedExpression{sel("wec", "destination.name")}})
	assert.Len(t, c.Evaluate(context.Background(), obj, many).Rows, 2)
}

func TestRuntimeErrorsNameDestinationAndColumn(t *testing.T) {
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
		agg("sum", edgev2alpha1.AggregatorSum, "returned.status.conditions"),
		agg("div", edgev2alpha1.AggregatorSum, "10 / (returned.status.availableReplicas - 3)"),
	}})
	res := c.Evaluate(context.Background(), obj, reports()[:2])
	require.Len(t, res.Errors, 3, "%v", res.Errors)
	assert.Contains(t, res.Errors[0], "root:imw1/east: sum: is list, not a number")
	assert.Contains(t, res.Errors[1], "root:imw1/east: div: division by zero")
	assert.Contains(t, res.Errors[2], "root:imw1/west: sum:")
	assert.Equal(t, [][]any{{int64(0), int64(-10)}}, res.Rows)
}

func TestErrorsAreBounded(t *testing.T) {
	var many []combinedstatus.Report
	for range 50 {
		many = append(many, reports()[0])
	}
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{Filter: "returned.status.availableReplicas / 0 == 1",
		Select: []edgev2alpha1.NamedExpression{sel("wec", "destination.name")}})
	res := c.Evaluate(context.Background(), obj, many)
	assert.Len(t, res.Errors, combinedstatus.MaxErrors)
	assert.Zero(t, res.Counted)
}

func TestRuntimeCostLimit(t *testing.T) {
	// The estimate cannot see that this string is long; the runtime limit stops it: a
	// search costs a tenth of the string's length.
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
		sel("n", "returned.status.s.contains('needle')")}})
	res := c.Evaluate(context.Background(), obj, []combinedstatus.Report{{
		Destination: combinedstatus.Destination{Name: "big"}, Status: map[string]any{"s": strings.Repeat("hay", 5_000_000)}}})
	require.Len(t, res.Errors, 1)
	assert.Contains(t, res.Errors[0], "big: n: operation cancelled: actual cost limit exceeded")
	assert.Equal(t, [][]any{{nil}}, res.Rows)
}

func TestExpressionTimeout(t *testing.T) {
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
		sel("n", "returned.status.items.all(x, x >= 0)")}})
	items := make([]any, 200_000)
	for i := range items {
		items[i] = int64(i)
	}
	start := time.Now()
	res := c.Evaluate(context.Background(), obj, []combinedstatus.Report{{
		Destination: combinedstatus.Destination{Name: "big"}, Status: map[string]any{"items": items}}})
	assert.Less(t, time.Since(start), 10*combinedstatus.ExpressionTimeout)
	require.Len(t, res.Errors, 1)
	assert.Contains(t, res.Errors[0], "big: n: operation interrupted: evaluation took longer than 100ms")
}

func TestEvaluateTimeout(t *testing.T) {
	c := mustCompile(t, edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
		sel("n", "returned.status.items.all(x, x >= 0)")}})
	items := make([]any, 200_000)
	for i := range items {
		items[i] = int64(i)
	}
	var many []combinedstatus.Report
	for range 40 {
		many = append(many, combinedstatus.Report{Destination: combinedstatus.Destination{Name: "big"}, Status: map[string]any{"items": items}})
	}
	start := time.Now()
	res := c.Evaluate(context.Background(), obj, many)
	assert.Less(t, time.Since(start), combinedstatus.EvaluateTimeout+time.Second)
	require.NotEmpty(t, res.Errors)
	assert.Regexp(t, `^evaluation stopped after \d+ of 40 destinations: context deadline exceeded$`, res.Errors[len(res.Errors)-1])
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		spec edgev2alpha1.StatusCollectorSpec
		want []string // "field: part of the message"
	}{
		{name: "good select", spec: edgev2alpha1.StatusCollectorSpec{Filter: "has(returned.status.readyReplicas)",
			Select: []edgev2alpha1.NamedExpression{sel("wec", "destination.name"), sel("ok", "returned.status.?readyReplicas.orValue(0)")}}},
		{name: "good combined", spec: edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
			agg("n", edgev2alpha1.AggregatorCount, ""), agg("s", edgev2alpha1.AggregatorSum, "returned.status.availableReplicas")}}},
		{name: "neither", spec: edgev2alpha1.StatusCollectorSpec{}, want: []string{"spec: Required value: give exactly one of spec.select and spec.combinedFields"}},
		{name: "both", spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{sel("a", "1")},
			CombinedFields: []edgev2alpha1.NamedAggregator{agg("b", edgev2alpha1.AggregatorCount, "")}},
			want: []string{"spec.combinedFields: Forbidden: give exactly one"}},
		{name: "filter not bool", spec: edgev2alpha1.StatusCollectorSpec{Filter: "1 + 2",
			Select: []edgev2alpha1.NamedExpression{sel("a", "1")}}, want: []string{"spec.filter: Invalid value: \"1 + 2\": must be of type bool, not int"}},
		{name: "syntax error", spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
			sel("a", "1"), sel("b", "2"), sel("c", "returned.status.(")}}, want: []string{"spec.select[2].def: Invalid value: \"returned.status.(\": does not compile: ERROR: <input>:1:17: Syntax error"}},
		{name: "unknown variable", spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
			sel("a", "status.x")}}, want: []string{"spec.select[0].def: Invalid value: \"status.x\": does not compile: ERROR: <input>:1:1: undeclared reference to 'status'"}},
		{name: "subject not a number", spec: edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
			agg("s", edgev2alpha1.AggregatorSum, "destination.name + 'x'")}}, want: []string{"spec.combinedFields[0].subject: Invalid value: \"destination.name + 'x'\": must be a number (int, uint or double), not string"}},
		{name: "subject missing", spec: edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
			agg("s", edgev2alpha1.AggregatorMax, "")}}, want: []string{"spec.combinedFields[0].subject: Required value: MAX needs a subject expression"}},
		{name: "bad type", spec: edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
			agg("s", "MEDIAN", "1")}}, want: []string{"spec.combinedFields[0].type: Unsupported value: \"MEDIAN\""}},
		{name: "names", spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
			sel("Bad", "1"), sel(long, "1"), sel("x", "1"), sel("x", "2")}},
			want: []string{"spec.select[0].name: Invalid value: \"Bad\": must start with a lowercase letter",
				"spec.select[1].name: Too long: may not be more than 63 bytes", "spec.select[3].name: Duplicate value: \"x\""}},
		{name: "limit", spec: edgev2alpha1.StatusCollectorSpec{Limit: 101, Select: []edgev2alpha1.NamedExpression{sel("x", "1")}},
			want: []string{"spec.limit: Invalid value: 101: must be between 0 and 100"}},
		{name: "too long", spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{sel("x", strings.Repeat("1+", 600)+"1")}},
			want: []string{"spec.select[0].def: Too long: may not be more than 1024 bytes"}},
		{name: "too costly", spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
			sel("x", "obj.spec.a.all(a, obj.spec.b.all(b, obj.spec.c.all(c, a == b && b == c)))")}},
			want: []string{"spec.select[0].def: Invalid value: \"obj.spec.a.all(a, obj.spec.b.all(b, obj.spec.c.all(c, a == b && b == c)))\": estimated cost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			errs := combinedstatus.Validate(&spec)
			require.Len(t, errs, len(tc.want), "%v", errs)
			for i, want := range tc.want {
				assert.Contains(t, errs[i].Error(), want)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	errs := combinedstatus.Validate(nil)
	require.Len(t, errs, 1)
	assert.Equal(t, "spec", errs[0].Field)
}

func TestCacheCompilesEachGenerationOnce(t *testing.T) {
	cache := combinedstatus.NewCache()
	sc := &edgev2alpha1.StatusCollector{ObjectMeta: metav1.ObjectMeta{Name: "c", Generation: 1},
		Spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{sel("a", "1")}}}
	first, errs := cache.Get("wmw", sc)
	require.Empty(t, errs)
	again, _ := cache.Get("wmw", sc)
	assert.Same(t, first, again)
	sc.Generation, sc.Spec.Select[0].Def = 2, "("
	_, errs = cache.Get("wmw", sc)
	assert.NotEmpty(t, errs, "a new generation is compiled again")
	other, _ := cache.Get("other", &edgev2alpha1.StatusCollector{ObjectMeta: metav1.ObjectMeta{Name: "c", Generation: 1},
		Spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{sel("a", "1")}}})
	assert.NotSame(t, first, other)
}

func joinRaw[T interface{ MarshalJSON() ([]byte, error) }](row []T) string {
	parts := make([]string, 0, len(row))
	for _, v := range row {
		data, _ := v.MarshalJSON()
		parts = append(parts, string(data))
	}
	return strings.Join(parts, " ")
}
