// Package combinedstatus compiles and evaluates StatusCollectors: CEL expressions that
// combine, over the destinations of a workload object, the status each destination's syncer
// reports for it.
package combinedstatus

import (
	"fmt"
	"regexp"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"k8s.io/apimachinery/pkg/util/validation/field"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// The names of the CEL variables every expression sees.
const (
	// VarObject is the workload object as it is in the workload management workspace.
	VarObject = "obj"
	// VarReturned is a map whose "status" is the status reported from one destination.
	VarReturned = "returned"
	// VarDestination is a map with the destination's "name", "space" and "location".
	VarDestination = "destination"
)

// Bounds on StatusCollectors.
const (
	// MaxExpressionLength is the longest expression accepted, in bytes.
	MaxExpressionLength = 1024
	// MaxItems is the most select expressions, or combined fields, in one collector.
	MaxItems = 16
	// MaxNameLength is the longest column name.
	MaxNameLength = 63
	// CostLimit bounds both the estimated and the actual cost of evaluating one expression
	// once, in CEL cost units.
	CostLimit = 1_000_000
	// assumedSize is the size the cost estimate assumes for every list, map and string whose
	// size CEL cannot know, so that loops over the object are bounded rather than infinite.
	assumedSize = 1000
)

var namePattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// NewEnv returns the CEL environment of StatusCollector expressions: the standard library,
// optional values (`returned.status.?x.orValue(0)`), and the three variables.
func NewEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		cel.OptionalTypes(),
		cel.Variable(VarObject, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarReturned, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarDestination, cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the CEL environment: %w", err)
	}
	return env, nil
}

// Validate checks a StatusCollector's spec: its bounds, and that every expression compiles in
// the environment of NewEnv, has a usable result type (bool for the filter, a number for an
// aggregate other than COUNT) and an estimated cost within CostLimit. Each error names the
// field, such as spec.select[2].def, and carries CEL's message.
func Validate(spec *edgev2alpha1.StatusCollectorSpec) field.ErrorList {
	_, errs := compile(spec)
	return errs
}

// kind is what an expression's result must be.
type kind int

const (
	kindAny kind = iota
	kindBool
	kindNumber
)

// compile compiles every expression of spec; the returned Collector is nil when there are
// errors.
func compile(spec *edgev2alpha1.StatusCollectorSpec) (*Collector, field.ErrorList) {
	root := field.NewPath("spec")
	var errs field.ErrorList
	if spec == nil {
		return nil, field.ErrorList{field.Required(root, "a StatusCollector needs a spec")}
	}
	env, err := NewEnv()
	if err != nil {
		return nil, field.ErrorList{field.InternalError(root, err)}
	}
	c := &Collector{limit: spec.Limit}
	if c.limit == 0 {
		c.limit = edgev2alpha1.DefaultStatusCollectorLimit
	}
	if spec.Limit < 0 || spec.Limit > edgev2alpha1.MaxStatusCollectorLimit {
		errs = append(errs, field.Invalid(root.Child("limit"), spec.Limit,
			fmt.Sprintf("must be between 0 and %d (0 means %d)", edgev2alpha1.MaxStatusCollectorLimit, edgev2alpha1.DefaultStatusCollectorLimit)))
	}
	switch {
	case len(spec.Select) == 0 && len(spec.CombinedFields) == 0:
		errs = append(errs, field.Required(root, "give exactly one of spec.select and spec.combinedFields"))
	case len(spec.Select) > 0 && len(spec.CombinedFields) > 0:
		errs = append(errs, field.Forbidden(root.Child("combinedFields"), "give exactly one of spec.select and spec.combinedFields, not both"))
	}
	if spec.Filter != "" {
		prg, ferrs := compileOne(env, root.Child("filter"), spec.Filter, kindBool)
		errs = append(errs, ferrs...)
		c.filter = prg
	}
	names := map[string]bool{}
	checkName := func(p *field.Path, name string) {
		switch {
		case len(name) > MaxNameLength:
			errs = append(errs, field.TooLong(p, name, MaxNameLength))
		case !namePattern.MatchString(name):
			errs = append(errs, field.Invalid(p, name, "must start with a lowercase letter and hold only letters, digits and '_'"))
		case names[name]:
			errs = append(errs, field.Duplicate(p, name))
		}
		names[name] = true
	}
	if len(spec.Select) > MaxItems {
		errs = append(errs, field.TooMany(root.Child("select"), len(spec.Select), MaxItems))
	}
	for i, e := range spec.Select {
		p := root.Child("select").Index(i)
		checkName(p.Child("name"), e.Name)
		prg, eerrs := compileOne(env, p.Child("def"), e.Def, kindAny)
		errs = append(errs, eerrs...)
		c.columns = append(c.columns, column{name: e.Name, program: prg})
	}
	if len(spec.CombinedFields) > MaxItems {
		errs = append(errs, field.TooMany(root.Child("combinedFields"), len(spec.CombinedFields), MaxItems))
	}
	for i, a := range spec.CombinedFields {
		p := root.Child("combinedFields").Index(i)
		checkName(p.Child("name"), a.Name)
		col := column{name: a.Name, aggregator: a.Type, aggregate: true}
		switch a.Type {
		case edgev2alpha1.AggregatorCount:
			if a.Subject != "" {
				prg, aerrs := compileOne(env, p.Child("subject"), a.Subject, kindAny)
				errs = append(errs, aerrs...)
				col.program = prg
			}
		case edgev2alpha1.AggregatorSum, edgev2alpha1.AggregatorAvg, edgev2alpha1.AggregatorMin, edgev2alpha1.AggregatorMax:
			if a.Subject == "" {
				errs = append(errs, field.Required(p.Child("subject"), fmt.Sprintf("%s needs a subject expression", a.Type)))
				break
			}
			prg, aerrs := compileOne(env, p.Child("subject"), a.Subject, kindNumber)
			errs = append(errs, aerrs...)
			col.program = prg
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), a.Type, []edgev2alpha1.AggregatorType{
				edgev2alpha1.AggregatorCount, edgev2alpha1.AggregatorSum, edgev2alpha1.AggregatorAvg,
				edgev2alpha1.AggregatorMin, edgev2alpha1.AggregatorMax}))
		}
		c.columns = append(c.columns, col)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// compileOne compiles, type-checks and cost-checks one expression.
func compileOne(env *cel.Env, p *field.Path, expr string, want kind) (cel.Program, field.ErrorList) {
	if len(expr) > MaxExpressionLength {
		return nil, field.ErrorList{field.TooLong(p, "", MaxExpressionLength)}
	}
	if expr == "" {
		return nil, field.ErrorList{field.Required(p, "an expression is needed")}
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, field.ErrorList{field.Invalid(p, expr, fmt.Sprintf("does not compile: %v", iss.Err()))}
	}
	out := ast.OutputType()
	dyn := out.IsExactType(cel.DynType)
	switch want {
	case kindBool:
		if !dyn && !out.IsExactType(cel.BoolType) {
			return nil, field.ErrorList{field.Invalid(p, expr, fmt.Sprintf("must be of type bool, not %s", out))}
		}
	case kindNumber:
		if !dyn && !out.IsExactType(cel.IntType) && !out.IsExactType(cel.UintType) && !out.IsExactType(cel.DoubleType) {
			return nil, field.ErrorList{field.Invalid(p, expr, fmt.Sprintf("must be a number (int, uint or double), not %s", out))}
		}
	case kindAny:
	}
	est, err := env.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return nil, field.ErrorList{field.Invalid(p, expr, fmt.Sprintf("cannot estimate its cost: %v", err))}
	}
	if est.Max > CostLimit {
		return nil, field.ErrorList{field.Invalid(p, expr, fmt.Sprintf("estimated cost %d exceeds the limit %d; simplify the expression (fewer nested loops)", est.Max, CostLimit))}
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(interruptEvery))
	if err != nil {
		return nil, field.ErrorList{field.Invalid(p, expr, fmt.Sprintf("cannot be prepared for evaluation: %v", err))}
	}
	return prg, nil
}

// sizeEstimator gives every value of unknown size the size assumedSize.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	return &checker.SizeEstimate{Min: 0, Max: assumedSize}
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
