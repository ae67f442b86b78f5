/**
 * The recipe end to end on CPU, with tiny Qwen3 models (real vocabulary, random initialisation): the curator
 * builds a small Thai SFT set, a legal corpus and RL prompts; the trainer trains a teacher by SFT, then a student
 * by SFT, distils the teacher into it on-policy, and finishes with InK-GRPO on a verifiable task. Each stage starts
 * from the checkpoint the one before wrote. Checked: the SFT loss falls, the student's KL to the teacher falls
 * during distillation, and InK-GRPO raises the mean reward (with its next-token term in some updates).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStack, engineAvailable, type TestStack, waitForRun } from "./helpers";

/** Short legal questions with one- or two-word answers, so a tiny model can learn them in a few steps. */
const QA: [string, string][] = [
  ["การกระทำโดยจงใจหรือประมาทเลินเล่อให้ผู้อื่นเสียหายเรียกว่าอะไร", "ละเมิด"],
  ["บุคคลบรรลุนิติภาวะเมื่ออายุเท่าใด", "ยี่สิบปีบริบูรณ์"],
  ["นิติกรรมที่ขัดต่อกฎหมายมีผลอย่างไร", "เป็นโมฆะ"],
  ["อายุความทั่วไปตามประมวลกฎหมายแพ่งคือกี่ปี", "สิบปี"],
];

/**
 * The verifiable task: a numbered dispute to classify as a wrong (answer "1") or a breach of contract ("2"),
 * answered with the digit alone. The SFT set answers its disputes both ways, so the tuned policy picks either
 * digit for a new one; the RL prompts are new disputes whose reference answer is "1", so GRPO has a signal in
 * every group and the reward measures how far the policy moved toward it.
 */
const dispute = (n: number) => `ข้อพิพาทที่ ${n} เป็นคดีละเมิด (1) หรือผิดสัญญา (2) ตอบเป็นตัวเลข`;

const CORPUS = [
  "มาตรา ๔๒๐ ผู้ใดจงใจหรือประมาทเลินเล่อ ทำต่อบุคคลอื่นโดยผิดกฎหมายให้เขาเสียหาย ท่านว่าผู้นั้นทำละเมิด จำต้องใช้ค่าสินไหมทดแทนเพื่อการนั้น",
  "มาตรา ๑๙ บุคคลย่อมพ้นจากภาวะผู้เยาว์และบรรลุนิติภาวะเมื่ออายุยี่สิบปีบริบูรณ์",
  "มาตรา ๑๕๐ การใดมีวัตถุประสงค์เป็นการต้องห้ามชัดแจ้งโดยกฎหมาย เป็นการพ้นวิสัย หรือเป็นการขัดขวางต่อความสงบเรียบร้อย การนั้นเป็นโมฆะ",
  "มาตรา ๒๑๕ เมื่อลูกหนี้ไม่ชำระหนี้ให้ต้องตามความประสงค์อันแท้จริงแห่งมูลหนี้ไซร้ เจ้าหนี้จะเรียกเอาค่าสินไหมทดแทนเพื่อความเสียหายอันเกิดแต่การนั้นก็ได้",
];

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe.skipIf(!engineAvailable)(
  "the recipe: SFT, on-policy distillation, InK-GRPO",
  { timeout: 900_000 },
  () => {
    let stack: TestStack;
    let train: string;
    let corpus: string;
    let prompts: string;

    beforeAll(async () => {
      stack = await createStack();
      train = await stack.version("recipe-sft", "chat", [
        ...QA.map(([q, a], i) => ({
          id: `qa${i}`,
          messages: [
            { role: "user", content: q },
            { role: "assistant", content: a },
          ],
        })),
        ...Array.from({ length: 8 }, (_, i) => ({
          id: `d${i + 1}`,
          messages: [
            { role: "user", content: dispute(i + 1) },
            { role: "assistant", content: i % 2 === 0 ? "1" : "2" },
          ],
        })),
      ]);
      corpus = await stack.version(
        "recipe-corpus",
        "text",
        CORPUS.map((text, i) => ({ id: `s${i}`, text })),
      );
      prompts = await stack.version(
        "recipe-prompts",
        "rl-prompt",
        Array.from({ length: 8 }, (_, i) => ({
          id: `p${i + 21}`,
          prompt: [{ role: "user", content: dispute(i + 21) }],
          reward_model: { style: "rule", ground_truth: JSON.stringify({ answer: "1" }) },
        })),
      );
    }, 300_000);

    afterAll(async () => {
      await stack?.cleanup();
    });

    /** Queue a run and wait for it; returns the run with its metrics, failing with the engine's output. */
    const train_ = async (spec: Record<string, unknown>) => {
      const res = await stack.post("/v1/training/runs", spec);
      expect(res.status, await res.clone().text()).toBe(202);
      const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
      expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
      return run;
    };
    const series = (run: Awaited<ReturnType<typeof train_>>, key: string) =>
      run.metrics.filter((m) => m.rank === 0).map((m) => m.metrics[key] as number);
    const finalCheckpoint = (run: Awaited<ReturnType<typeof train_>>) => {
      const last = run.checkpoints.at(-1);
      if (!last) throw new Error(`run ${run.id} wrote no checkpoint`);
      return last.path;
    };

    it("runs the three stages, each from the last one's checkpoint, improving what it optimizes", async () => {
      const sftHyper = { seqLen: 64, rowsPerStep: 4, lr: 2e-2, warmupSteps: 2, checkpointEvery: 0 };
      const teacher = await train_({
        name: "teacher",
        stage: "sft",
        model: { tiny: "tiny-2", seed: 7 },
        datasets: { train },
        hyper: { ...sftHyper, totalSteps: 60 },
        seed: 1,
      });
      const teacherLoss = series(teacher, "loss");
      expect(mean(teacherLoss.slice(-3))).toBeLessThan(mean(teacherLoss.slice(0, 3)) * 0.3);

      // The student is smaller and trained for a third of the steps, so the teacher has something to teach.
      const student = await train_({
        name: "student-sft",
        stage: "sft",
        model: { tiny: "tiny", seed: 11 },
        datasets: { train },
        hyper: { ...sftHyper, totalSteps: 20 },
        seed: 2,
      });
      const studentLoss = series(student, "loss");
      expect(mean(studentLoss.slice(-3))).toBeLessThan(mean(studentLoss.slice(0, 3)) * 0.3);

      const distilled = await train_({
        name: "student-opd",
        stage: "opd",
        model: { path: finalCheckpoint(student) },
        teacher: { path: finalCheckpoint(teacher) },
        datasets: { train },
        hyper: {
          totalSteps: 24,
          seqLen: 64,
          rowsPerStep: 4,
          lr: 1e-2,
          warmupSteps: 2,
          lambda: 0.5,
          maxTokens: 16,
          checkpointEvery: 0,
        },
        seed: 3,
      });
      // Each step's KL is measured on that step's rows (sampled or from the set), so it is compared by thirds.
      const kl = series(distilled, "kl");
      expect(kl).toHaveLength(24);
      expect(mean(kl.slice(-8))).toBeLessThan(mean(kl.slice(0, 8)) * 0.85);

      const rl = await train_({
        name: "student-ink-grpo",
        stage: "ink-grpo",
        model: { path: finalCheckpoint(distilled) },
        datasets: { prompts, corpus },
        // A fine-tuning rate: Adam's first steps move every weight by about the learning rate, so the rate that
        // trains a tiny model from scratch (2e-2) would undo what SFT taught it.
        hyper: {
          totalSteps: 16,
          seqLen: 64,
          rowsPerStep: 4,
          lr: 3e-3,
          groupSize: 8,
          maxTokens: 12,
          temperature: 1,
          checkpointEvery: 0,
        },
        seed: 4,
      });
      const reward = series(rl, "reward_mean");
      expect(reward).toHaveLength(16);
      for (const r of reward) expect(r >= 0 && r <= 1).toBe(true);
      // The distilled policy answers "1" some of the time (a signal in the groups), and much more often at the end.
      expect(mean(reward.slice(0, 5))).toBeGreaterThan(0.05);
      expect(mean(reward.slice(-5))).toBeGreaterThan(mean(reward.slice(0, 5)) + 0.15);
      // The next-token term on the corpus joined some updates and not others (rho = 0.6).
      const applied = series(rl, "ce_applied");
      expect(applied.some((v) => v === 1) && applied.some((v) => v === 0)).toBe(true);
      const ceLoss = series(rl, "ce_loss").filter((v) => v !== undefined);
      expect(ceLoss.length).toBeGreaterThan(0);
      for (const v of ceLoss) expect(Number.isFinite(v) && v > 0).toBe(true);
    });
  },
);
