/** Whether process `pid` exists (signal 0; EPERM means it exists under another user): for lock files naming their owner. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
