import { afterEach, describe, expect, it, vi } from "vitest";
import { deferred } from "../test/fixtures";
import { FormState } from "./form.svelte";

const FIELD_IDS = { location: "test-location", passphrase: "test-passphrase" };

function input(id: string): HTMLInputElement {
  const element = document.createElement("input");
  element.id = id;
  document.body.append(element);
  return element;
}

afterEach(() => document.body.replaceChildren());

describe("FormState", () => {
  it("shows a validation problem, focuses its field and skips the action", async () => {
    input("test-location");
    const passphrase = input("test-passphrase");
    const form = new FormState(FIELD_IDS);
    const action = vi.fn(async () => {});

    await form.submit({ field: "passphrase", message: "too short" }, action);

    expect(form.error).toEqual({ code: "invalid_input", message: "too short" });
    expect(form.invalidField).toBe("passphrase");
    expect(document.activeElement).toBe(passphrase);
    expect(form.submitting).toBe(false);
    expect(action).not.toHaveBeenCalled();
  });

  it("clears the last error and is submitting while the action runs", async () => {
    const form = new FormState(FIELD_IDS);
    await form.submit({ field: "location", message: "not a full path" }, async () => {});
    const done = deferred<void>();

    const submitted = form.submit(null, () => done.promise);
    expect(form.submitting).toBe(true);
    expect(form.error).toBeNull();
    expect(form.invalidField).toBeNull();

    done.resolve();
    await submitted;
    expect(form.submitting).toBe(false);
    expect(form.error).toBeNull();
  });

  it("ignores a submission while one runs", async () => {
    const form = new FormState(FIELD_IDS);
    const done = deferred<void>();
    const first = form.submit(null, () => done.promise);
    const second = vi.fn(async () => {});

    await form.submit(null, second);
    await form.submit({ field: "location", message: "ignored too" }, second);
    await form.run(second);
    expect(second).not.toHaveBeenCalled();
    expect(form.error).toBeNull();

    done.resolve();
    await first;
    expect(form.submitting).toBe(false);
  });

  it("shows what the action threw as an ApiError, and the field it names", async () => {
    const form = new FormState(FIELD_IDS);
    await form.submit(
      null,
      async () => {
        throw { code: "wrong_passphrase", message: "wrong passphrase" };
      },
      (error) => (error.code === "wrong_passphrase" ? "passphrase" : null),
    );
    expect(form.error).toEqual({ code: "wrong_passphrase", message: "wrong passphrase" });
    expect(form.invalidField).toBe("passphrase");
    expect(form.submitting).toBe(false);

    await form.run(async () => {
      throw "the command is unknown";
    });
    expect(form.error).toEqual({ code: "other", message: "the command is unknown" });
    expect(form.invalidField).toBeNull();
  });

  it("finds the field to focus with a function, for rows that come and go", () => {
    const second = input("row-1-name");
    const form = new FormState<`row-${number}-name`>((field) => field);
    form.invalid({ field: "row-1-name", message: "Row 2 needs a name." });
    expect(form.error).toEqual({ code: "invalid_input", message: "Row 2 needs a name." });
    expect(form.invalidField).toBe("row-1-name");
    expect(document.activeElement).toBe(second);
  });

  it("runs a confirmed action without fields", async () => {
    const action = new FormState();
    let ran = false;
    await action.run(async () => {
      ran = true;
    });
    expect(ran).toBe(true);
    expect(action.error).toBeNull();
    expect(action.submitting).toBe(false);
  });
});
