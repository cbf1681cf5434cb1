// Steps a test registers as it builds things up, undone in reverse order after it (or the suite), whatever happened in it.
export class Cleanup {
  private steps: (() => Promise<unknown>)[] = [];

  push(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  /** Runs the steps registered so far, last first; a step that fails does not stop the others. */
  readonly run = async (): Promise<void> => {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      try {
        await step();
      } catch {
        // keep cleaning up
      }
    }
  };
}
