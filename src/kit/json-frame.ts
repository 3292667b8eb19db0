/** A WebSocket text frame read as JSON: the value, or why it is unusable. Never throws. */
export function readJsonFrame(data: unknown, maxChars: number): { value: unknown } | { problem: string } {
  if (typeof data !== 'string') return { problem: 'a binary or empty message' };
  if (data.length > maxChars) return { problem: `an oversize message (${data.length} chars)` };
  try {
    return { value: JSON.parse(data) };
  } catch {
    return { problem: 'a message that is not JSON' };
  }
}
