// The main frame's screens, in navigation order. Timeline, Restore, Drills
// and Schedules join this list when they exist.

export type ScreenId = "overview" | "repository" | "activity";

export type Screen = { id: ScreenId; label: string };

export const SCREENS: readonly Screen[] = [
  { id: "overview", label: "Overview" },
  { id: "repository", label: "Repository & keys" },
  { id: "activity", label: "Activity" },
];
