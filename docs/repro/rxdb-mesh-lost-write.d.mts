/** Types for the JavaScript reproduction beside this file (it stays plain JavaScript, to be filed upstream). */
export function runLostWriteScenario(options: { creator: () => unknown; topic?: string; waitMs?: number }): Promise<string>;
