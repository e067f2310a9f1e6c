// Compiled with `tsc --strict --noEmit` by bin/check-clients against the types that
// openapi-typescript generates from openapi.yaml: a browser client's calls, its typed
// errors (404, 400 naming a field), and a webhook receiver's events.
import createClient from "openapi-fetch";
import type { components, operations, paths, webhooks } from "../../var/clients/typescript/schema";

type Goal = components["schemas"]["Goal"];
type ValidationError = components["schemas"]["ErrorResponse400"];
type NotFound = components["schemas"]["ErrorResponse404"];

const api = createClient<paths>({
  baseUrl: "https://alignment.example.com",
  headers: { Authorization: "Bearer token" },
});

export async function goalTitle(org: string, id: string): Promise<string> {
  const { data, error, response } = await api.GET("/api/v1/orgs/{org}/goals/{id}/", {
    params: { path: { org, id } },
  });
  if (error) {
    if (response.status === 404) {
      const notFound: NotFound = error as NotFound;
      return `missing: ${notFound.errors[0]?.code ?? "?"}`;
    }
    return `error: ${error.type}`;
  }
  const goal: Goal = data;
  const etag = response.headers.get("ETag");
  const percent = goal.progress === null ? "no data" : `${Math.round(goal.progress * 100)}%`;
  return `${goal.title} (${goal.status}, ${percent}, version ${etag ?? "?"})`;
}

export async function createGoal(org: string, title: string): Promise<Goal | string[]> {
  const { data, error } = await api.POST("/api/v1/orgs/{org}/goals/", {
    params: { path: { org } },
    body: { title },
  });
  if (error) {
    const invalid = error as ValidationError;
    return invalid.errors.map((e) => `${e.attr ?? "-"}: ${e.code}`);
  }
  return data;
}

export async function latestGoals(org: string): Promise<Goal[]> {
  const { data } = await api.GET("/api/v1/orgs/{org}/goals/", {
    params: { path: { org }, query: { ordering: ["-due_on", "title"], limit: 50 } },
  });
  return data?.results ?? [];
}

type Event = components["schemas"]["WebhookEvent"];

export function describe(event: Event): string {
  switch (event.type) {
    case "course_correction.opened":
      return `correction ${event.data.id} on ${event.data.subject_type} (${event.data.recommended_mode ?? "no mode"})`;
    case "score.threshold_crossed":
      return `${event.data.subject_id} went ${event.data.direction} ${event.data.threshold}`;
    case "feedback.created":
      return event.data.anonymous ? "anonymous feedback" : `feedback by ${event.data.author ?? "?"}`;
    default:
      return event.type;
  }
}

type GoalCreated = NonNullable<webhooks["goal.created"]["post"]["requestBody"]>["content"]["application/json"];
export const example: GoalCreated["data"]["title"] = "Grow";
type BatchIngest = operations["ingestReadings"]["responses"];
export type Retry = BatchIngest[503]["content"]["application/json"]["errors"][number]["code"];
export const retry: Retry = "retry";
