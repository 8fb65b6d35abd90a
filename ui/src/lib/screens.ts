// The main frame's screens, in navigation order.

export type ScreenId = "overview" | "connections" | "timeline" | "schedules" | "drills" | "restore" | "pitr" | "repository" | "activity";

export type Screen = { id: ScreenId; label: string };

export const SCREENS: readonly Screen[] = [
  { id: "overview", label: "Overview" },
  { id: "connections", label: "Connections" },
  { id: "timeline", label: "Timeline" },
  { id: "schedules", label: "Schedules" },
  { id: "drills", label: "Drills" },
  { id: "restore", label: "Restore" },
  { id: "pitr", label: "Point in time" },
  { id: "repository", label: "Repository & keys" },
  { id: "activity", label: "Activity" },
];
