package combinedstatus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// MaxErrors bounds Result.Errors.
const MaxErrors = 10

// Time bounds on evaluation. CostLimit alone does not bound time: the cost tracker of CEL
// takes time that grows faster than the cost it counts in long loops, so each evaluation also
// has a deadline, checked every interruptEvery loop iterations.
const (
	// ExpressionTimeout bounds one evaluation of one expression.
	ExpressionTimeout = 100 * time.Millisecond
	// EvaluateTimeout bounds one Evaluate call: one collector over all of an object's
	// reports. The reports not reached in time are left out, and an error says so.
	EvaluateTimeout = 2 * time.Second
	interruptEvery  = 100
)

// Destination identifies where a report comes from.
type Destination struct {
	// Name is the SyncTarget's name.
	Name string
	// Space is the path of the SyncTarget's inventory space.
	Space string
	// Location is the name of the destination's Location, or "" when not known.
	Location string
}

func (d Destination) String() string {
	if d.Space == "" {
		return d.Name
	}
	return d.Space + "/" + d.Name
}

// Report is what one destination reported for the object.
type Report struct {
	Destination Destination
	// Status is the object's status in that destination; nil before the first report.
	Status map[string]any
}

// Result is what one collector made of an object's reports.
type Result struct {
	// ColumnNames are the collector's column names, in order.
	ColumnNames []string
	// Rows are the values: one row per counted report for a select, one row for combined
	// fields. A value that could not be computed is nil.
	Rows [][]any
	// Counted is how many reports passed the filter.
	Counted int
	// Errors are the first MaxErrors evaluation failures, each naming the destination and
	// the column.
	Errors []string
}

// Collector is a compiled StatusCollector.
type Collector struct {
	filter  cel.Program
	columns []column
	limit   int64
}

type column struct {
	name       string
	program    cel.Program
	aggregate  bool
	aggregator edgev2alpha1.AggregatorType
}

// Compile compiles a StatusCollector's spec; on errors it returns them, as Validate does, and
// no Collector.
func Compile(spec *edgev2alpha1.StatusCollectorSpec) (*Collector, field.ErrorList) {
	return compile(spec)
}

// ColumnNames returns the names of the collector's columns, in order.
func (c *Collector) ColumnNames() []string {
	names := make([]string, 0, len(c.columns))
	for _, col := range c.columns {
		names = append(names, col.name)
	}
	return names
}

// Evaluate applies the collector to the reports of the object obj (the object as it is in
// the workload management workspace, as a JSON-like map). Each expression is evaluated with
// the CEL runtime cost limit CostLimit, so no expression can run away. A field that is
// missing (CEL's "no such key") makes a select value null, leaves the report out of an
// aggregate and makes the filter false, without an error: a report that has not arrived yet
// is normal. Every other failure is counted in Result.Errors.
func (c *Collector) Evaluate(ctx context.Context, obj map[string]any, reports []Report) Result {
	res := Result{ColumnNames: c.ColumnNames()}
	addErr := func(d Destination, what string, err error) {
		if len(res.Errors) < MaxErrors {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %s: %v", d, what, err))
		}
	}
	aggs := make([]aggregator, len(c.columns))
	ctx, cancel := context.WithTimeout(ctx, EvaluateTimeout)
	defer cancel()
	for i, r := range reports {
		if ctx.Err() != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("evaluation stopped after %d of %d destinations: %v", i, len(reports), context.Cause(ctx)))
			break
		}
		status := r.Status
		if status == nil {
			status = map[string]any{}
		}
		vars := map[string]any{
			VarObject:   obj,
			VarReturned: map[string]any{"status": status},
			VarDestination: map[string]any{
				"name": r.Destination.Name, "space": r.Destination.Space, "location": r.Destination.Location,
			},
		}
		if c.filter != nil {
			v, err := eval(ctx, c.filter, vars)
			if err != nil {
				if !missing(err) {
					addErr(r.Destination, "filter", err)
				}
				continue
			}
			b, ok := v.(types.Bool)
			if !ok {
				addErr(r.Destination, "filter", fmt.Errorf("is %s, not bool", v.Type().TypeName()))
				continue
			}
			if !bool(b) {
				continue
			}
		}
		res.Counted++
		if len(c.columns) > 0 && !c.columns[0].aggregate {
			if int64(len(res.Rows)) >= c.limit {
				continue
			}
			row := make([]any, len(c.columns))
			for i, col := range c.columns {
				v, err := eval(ctx, col.program, vars)
				if err != nil {
					if !missing(err) {
						addErr(r.Destination, col.name, err)
					}
					continue
				}
				nv, err := native(v)
				if err != nil {
					addErr(r.Destination, col.name, err)
					continue
				}
				row[i] = nv
			}
			res.Rows = append(res.Rows, row)
			continue
		}
		for i, col := range c.columns {
			if col.program == nil {
				aggs[i].count++
				continue
			}
			v, err := eval(ctx, col.program, vars)
			if err != nil {
				if !missing(err) {
					addErr(r.Destination, col.name, err)
				}
				continue
			}
			if col.aggregator == edgev2alpha1.AggregatorCount {
				if v != types.NullValue {
					aggs[i].count++
				}
				continue
			}
			if err := aggs[i].add(v); err != nil {
				addErr(r.Destination, col.name, err)
			}
		}
	}
	if len(c.columns) > 0 && c.columns[0].aggregate {
		row := make([]any, len(c.columns))
		for i, col := range c.columns {
			row[i] = aggs[i].result(col.aggregator)
		}
		res.Rows = [][]any{row}
	}
	return res
}

func eval(ctx context.Context, prg cel.Program, vars map[string]any) (ref.Val, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, ExpressionTimeout, fmt.Errorf("evaluation took longer than %s", ExpressionTimeout))
	defer cancel()
	v, _, err := prg.ContextEval(ctx, vars)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", err, context.Cause(ctx))
		}
		return nil, err
	}
	if opt, ok := v.(*types.Optional); ok {
		if !opt.HasValue() {
			return types.NullValue, nil
		}
		v = opt.GetValue()
	}
	return v, nil
}

// missing says whether err is CEL's error for a map key or field that is not there.
func missing(err error) bool {
	return strings.HasPrefix(err.Error(), "no such key") || strings.HasPrefix(err.Error(), "no such attribute")
}

// aggregator accumulates one combined field.
type aggregator struct {
	count    int64
	n        int64
	allInts  bool
	started  bool
	intSum   int64
	floatSum float64
	minV     float64
	maxV     float64
	minI     int64
	maxI     int64
}

func (a *aggregator) add(v ref.Val) error {
	var f float64
	var i int64
	isInt := false
	switch x := v.(type) {
	case types.Int:
		i, f, isInt = int64(x), float64(x), true
	case types.Uint:
		if uint64(x) > math.MaxInt64 {
			f = float64(x)
		} else {
			i, f, isInt = int64(x), float64(x), true
		}
	case types.Double:
		f = float64(x)
	case types.Null:
		return nil
	default:
		return fmt.Errorf("is %s, not a number", v.Type().TypeName())
	}
	if !a.started {
		a.started, a.allInts = true, true
		a.minV, a.maxV, a.minI, a.maxI = f, f, i, i
	}
	a.n++
	a.floatSum += f
	if isInt {
		a.intSum += i
		a.minI, a.maxI = min(a.minI, i), max(a.maxI, i)
	} else {
		a.allInts = false
	}
	a.minV, a.maxV = min(a.minV, f), max(a.maxV, f)
	return nil
}

func (a *aggregator) result(t edgev2alpha1.AggregatorType) any {
	switch t {
	case edgev2alpha1.AggregatorCount:
		return a.count
	case edgev2alpha1.AggregatorSum:
		if a.allInts || a.n == 0 {
			return a.intSum
		}
		return a.floatSum
	case edgev2alpha1.AggregatorAvg:
		if a.n == 0 {
			return nil
		}
		return a.floatSum / float64(a.n)
	case edgev2alpha1.AggregatorMin:
		if a.n == 0 {
			return nil
		}
		if a.allInts {
			return a.minI
		}
		return a.minV
	case edgev2alpha1.AggregatorMax:
		if a.n == 0 {
			return nil
		}
		if a.allInts {
			return a.maxI
		}
		return a.maxV
	}
	return nil
}

var jsonValueType = reflect.TypeOf(&structpb.Value{})

// native turns a CEL value into a value that encoding/json writes as the same JSON.
func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	}
	pv, err := v.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, fmt.Errorf("value of type %s cannot be written as JSON: %w", v.Type().TypeName(), err)
	}
	data, err := protojson.Marshal(pv.(*structpb.Value))
	if err != nil {
		return nil, fmt.Errorf("encoding a value of type %s: %w", v.Type().TypeName(), err)
	}
	return json.RawMessage(data), nil
}

// JSONRows encodes rows for a CombinedStatus.
func JSONRows(rows [][]any) ([][]apiextensionsv1.JSON, error) {
	out := make([][]apiextensionsv1.JSON, 0, len(rows))
	for _, row := range rows {
		jrow := make([]apiextensionsv1.JSON, 0, len(row))
		for _, v := range row {
			data, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("encoding a result value: %w", err)
			}
			jrow = append(jrow, apiextensionsv1.JSON{Raw: data})
		}
		out = append(out, jrow)
	}
	return out, nil
}
