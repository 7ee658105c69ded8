// Front door of src/authz: the `[authorization]` rules. broker.ts builds an
// Authorizer and hands it to the links, which only see it through the
// AccessCheck shape their options declare.

export {
  type AccessAction,
  type AccessIdentity,
  type AccessRule,
  Authorizer,
  type AuthorizerOptions,
  type RuleProblem,
} from "./authorizer.ts";
export { filtersOverlap, filterWithin } from "./filter-relations.ts";
